// Package dirwatch lists the files of a configured directory (and files
// named one by one) and tells which of them changed since they were last
// read: the reload machinery shared by the processors that load files an
// operator drops in a directory (intel feeds, Sigma rules).
//
// The files come from outside, so listing them is careful:
//
//   - the directory is opened as an os.Root, and every file is opened
//     through it, so neither a name nor a symbolic link swapped in between
//     can lead outside;
//   - an entry may be a symbolic link to a regular file inside the
//     directory, as in a Kubernetes ConfigMap volume (x.yml -> ..data/x.yml,
//     ..data -> ..2026_01_01_00_00_00.123456789); links that lead out of it
//     are refused, with a reason;
//   - anything that is not a regular file is refused: a FIFO would block
//     the read (files are also opened without blocking, and their type is
//     checked on the open file), a device would never end;
//   - hidden names (Kubernetes' ..data and timestamped directories, editors'
//     dot files) are never listed.
//
// A file's identity (Identity) is its resolved path, device, inode, size,
// modification and change time: a ConfigMap update swaps the ..data link to
// a new directory, so the path stays the same and the modification time may
// too, while the resolved target and the inode change; the change time
// catches a rewrite in place that restores the modification time.
//
// Tracker keeps, between scans, what was read and what failed, and decides
// which files to read: new or changed ones, once their identity stayed the
// same for a settle time (so a half-written file is not read), and not a
// version already known to fail.
package dirwatch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Reasons of refusals, stable names for metrics. A link out of the
// directory is refused with OutsideReason(Options.DirOption).
const (
	ReasonBrokenSymlink = "broken_symlink"
	ReasonNotRegular    = "not_regular_file"
	ReasonTooManyFiles  = "too_many_files"
)

// OutsideReason is the reason of a link that leads out of the directory
// configured as dirOption ("outside_feeds_dir", "outside_rules_dir").
func OutsideReason(dirOption string) string { return "outside_" + dirOption }

// Options say what to list.
type Options struct {
	// Dir is the directory whose entries are listed; "" for none. It must
	// exist (Scan fails otherwise).
	Dir string
	// DirOption names Dir's configuration option, for refusal reasons and
	// messages ("feeds_dir").
	DirOption string
	// Files are files named one by one. The operator chose them: they may
	// be links anywhere, but must be regular files.
	Files []string
	// Skip, if not nil, leaves out files by name (in Dir and, when
	// Recursive, its subdirectories; a link is judged by its own name).
	// Hidden names, of files and directories, are always left out.
	Skip func(name string) bool
	// Recursive descends into the subdirectories of Dir (real ones, not
	// links to directories, which could loop), at most MaxDepth levels
	// below Dir.
	Recursive bool
	MaxDepth  int
	// MaxFiles bounds the files listed (0: no bound); the ones beyond it,
	// in the order of their paths, are refused with ReasonTooManyFiles.
	MaxFiles int
}

// Identity tells that a file changed; see the package comment.
type Identity struct {
	target   string // the path with every symbolic link resolved
	dev, ino uint64
	size     int64
	mtimeNS  int64
	ctimeNS  int64
}

func identityOf(target string, fi os.FileInfo) Identity {
	id := Identity{target: target, size: fi.Size(), mtimeNS: fi.ModTime().UnixNano()}
	statID(&id, fi)
	return id
}

// Size is the file's size when it was listed.
func (id Identity) Size() int64 { return id.size }

// File is one file to read.
type File struct {
	// Path names the file in logs and keys it: Dir joined with its name,
	// or a path from Files.
	Path string
	// open is its name relative to Dir, opened through the listing's
	// root; "" for a file from Files, opened by path.
	open string
	ID   Identity
}

// Refusal is why an entry of Dir or a configured file is not listed.
type Refusal struct {
	Reason string // a metric attribute
	Detail string
}

// ScanError is a file that could not even be looked at.
type ScanError struct {
	Path string
	Err  error
}

// Listing is the result of one scan. Close it once its files are read.
type Listing struct {
	Files   []File
	Refused map[string]Refusal
	Errors  []ScanError
	root    *os.Root
}

// Close releases the directory.
func (l *Listing) Close() error {
	if l.root == nil {
		return nil
	}
	return l.root.Close()
}

// Scan lists the files. It fails only when Dir cannot be opened or read.
func Scan(o Options) (*Listing, error) {
	l := &Listing{Refused: map[string]Refusal{}}
	seen := map[string]bool{}
	for _, p := range o.Files {
		if seen[p] {
			continue
		}
		seen[p] = true
		fi, err := os.Stat(p)
		if err != nil {
			l.Errors = append(l.Errors, ScanError{p, err})
			continue
		}
		if !fi.Mode().IsRegular() {
			l.Refused[p] = Refusal{ReasonNotRegular, "a " + TypeName(fi.Mode()) + ", not a regular file"}
			continue
		}
		target := p
		if t, err := filepath.EvalSymlinks(p); err == nil {
			target = t
		}
		l.Files = append(l.Files, File{Path: p, ID: identityOf(target, fi)})
	}
	if o.Dir != "" {
		root, err := os.OpenRoot(o.Dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.DirOption, err)
		}
		l.root = root
		realDir, err := filepath.EvalSymlinks(o.Dir)
		if err != nil {
			realDir = o.Dir
		}
		w := walker{o: o, l: l, root: root, realDir: realDir, seen: seen}
		if err := w.dir(".", 0); err != nil {
			root.Close()
			return nil, fmt.Errorf("%s: %w", o.DirOption, err)
		}
	}
	sort.Slice(l.Files, func(i, j int) bool { return l.Files[i].Path < l.Files[j].Path })
	if max := o.MaxFiles; max > 0 && len(l.Files) > max {
		for _, f := range l.Files[max:] {
			l.Refused[f.Path] = Refusal{ReasonTooManyFiles, fmt.Sprintf("more than %d files", max)}
		}
		l.Files = l.Files[:max]
	}
	return l, nil
}

type walker struct {
	o       Options
	l       *Listing
	root    *os.Root
	realDir string
	seen    map[string]bool
}

// dir lists the directory rel (relative to the root), depth levels below
// it. Only the top level's read error fails the scan; a subdirectory that
// cannot be read is a ScanError.
func (w *walker) dir(rel string, depth int) error {
	entries, err := fs.ReadDir(w.root.FS(), rel)
	if err != nil {
		if depth == 0 {
			return err
		}
		w.l.Errors = append(w.l.Errors, ScanError{filepath.Join(w.o.Dir, rel), err})
		return nil
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || (!e.IsDir() && w.o.Skip != nil && w.o.Skip(name)) {
			continue
		}
		open := name
		if rel != "." {
			open = filepath.Join(rel, name)
		}
		full := filepath.Join(w.o.Dir, open)
		if w.seen[full] {
			continue
		}
		w.seen[full] = true
		if e.Type().IsDir() {
			// Only real directories: a link to one could loop or lead
			// elsewhere, and a ConfigMap's keys are never directories.
			if w.o.Recursive && depth < w.o.MaxDepth {
				if err := w.dir(open, depth+1); err != nil {
					return err
				}
			}
			continue
		}
		f, ref, err := w.entry(full, open, e.Type())
		switch {
		case err != nil:
			w.l.Errors = append(w.l.Errors, ScanError{full, err})
		case ref != nil:
			w.l.Refused[full] = *ref
		case f != nil:
			w.l.Files = append(w.l.Files, *f)
		}
	}
	return nil
}

// entry looks at one entry: a file to read, a refusal, an error, or
// nothing (a link to a directory, or an entry gone since the listing).
func (w *walker) entry(full, open string, typ fs.FileMode) (*File, *Refusal, error) {
	target := full
	switch {
	case typ&fs.ModeSymlink != 0:
		resolved, err := filepath.EvalSymlinks(full)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Refusal{ReasonBrokenSymlink, "symbolic link to a file that does not exist"}, nil
		}
		if err != nil {
			return nil, nil, err
		}
		rel, err := filepath.Rel(w.realDir, resolved)
		if err != nil || !local(rel) {
			return nil, &Refusal{OutsideReason(w.o.DirOption), "symbolic link to " + resolved + ", outside " + w.o.DirOption}, nil
		}
		// The file is opened by its resolved name, through the root: a
		// link swapped after this check still cannot lead outside, and a
		// link written with an absolute path inside the directory (which
		// os.Root does not follow) is read all the same.
		open, target = rel, resolved
	case !typ.IsRegular():
		return nil, &Refusal{ReasonNotRegular, "a " + TypeName(typ) + ", not a regular file"}, nil
	}
	fi, err := w.root.Stat(open)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	switch {
	case fi.IsDir():
		return nil, nil, nil
	case !fi.Mode().IsRegular():
		return nil, &Refusal{ReasonNotRegular, "symbolic link to a " + TypeName(fi.Mode()) + ", not a regular file"}, nil
	}
	return &File{Path: full, open: open, ID: identityOf(target, fi)}, nil, nil
}

// local reports whether a relative path stays inside its base. Names that
// merely start with ".." (Kubernetes' ..data) do.
func local(rel string) bool {
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// NotRegularError is a file whose open found it is not a regular file
// (swapped since the listing).
type NotRegularError struct {
	Path string
	Mode os.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is not a regular file (%s)", e.Path, TypeName(e.Mode))
}

// Open opens a listed file for reading: through the listing's root for a
// file of Dir, so that neither its name nor a link on the way can lead
// outside even if the tree changed since the scan, else by path. It opens
// without blocking (opening a FIFO for reading otherwise waits for a
// writer) and checks the type on the open file, not on the name, so that
// swapping the file between the scan and the open changes nothing; a file
// that is not regular gives a *NotRegularError.
func (l *Listing) Open(f File) (*os.File, os.FileInfo, error) {
	return OpenRegular(l.root, f.open, f.Path)
}

// OpenRegular opens name through root (when root is not nil and name is
// not empty) or path otherwise, as Listing.Open does.
func OpenRegular(root *os.Root, name, path string) (*os.File, os.FileInfo, error) {
	const flags = os.O_RDONLY | syscall.O_NONBLOCK
	var file *os.File
	var err error
	if root != nil && name != "" {
		file, err = root.OpenFile(name, flags, 0)
	} else {
		file, err = os.OpenFile(path, flags, 0)
	}
	if err != nil {
		return nil, nil, err
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		file.Close()
		return nil, nil, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return file, fi, nil
}

// TypeName names the type of a file mode, for messages.
func TypeName(m os.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "directory"
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "irregular file"
}

// Tracker remembers, between scans, the identity of each file read, of
// each file whose last read failed, of files waiting to settle, and the
// current refusals. It is not safe for concurrent use.
type Tracker struct {
	// Settle: a new or changed file is read only once its identity stayed
	// the same this long (0: at once).
	Settle time.Duration

	loaded  map[string]Identity
	failed  map[string]Identity
	pending map[string]pending
	refused map[string]Refusal
}

type pending struct {
	id     Identity
	stable time.Time
}

// NewTracker returns an empty tracker.
func NewTracker(settle time.Duration) *Tracker {
	return &Tracker{Settle: settle, loaded: map[string]Identity{}, failed: map[string]Identity{},
		pending: map[string]pending{}, refused: map[string]Refusal{}}
}

// Changes is what a scan found against what the tracker knew.
type Changes struct {
	// Ready are the files to read now: new or changed, settled (or
	// initial), and not a version known to fail. Report each with Loaded
	// or Failed.
	Ready []File
	// Removed are the files read before that are no longer listed (gone,
	// or refused now: see Refused); the tracker forgot them.
	Removed []string
	// NewRefusals are the refusals that started with this scan (each is
	// reported once, when it starts); Refused all current ones.
	NewRefusals map[string]Refusal
	Refused     map[string]Refusal
}

// Update compares a listing with what the tracker knows. initial reads
// every new or changed file at once, without waiting for it to settle.
func (t *Tracker) Update(l *Listing, initial bool, now time.Time) Changes {
	ch := Changes{NewRefusals: map[string]Refusal{}, Refused: l.Refused}
	for p, r := range l.Refused {
		if old, ok := t.refused[p]; !ok || old != r {
			ch.NewRefusals[p] = r
		}
	}
	t.refused = l.Refused
	present := make(map[string]bool, len(l.Files))
	for _, f := range l.Files {
		p := f.Path
		present[p] = true
		if id, ok := t.loaded[p]; ok && id == f.ID {
			delete(t.pending, p)
			delete(t.failed, p)
			continue
		}
		if id, ok := t.failed[p]; ok && id == f.ID {
			delete(t.pending, p)
			continue
		}
		if !initial && t.Settle > 0 {
			ps, ok := t.pending[p]
			if !ok || ps.id != f.ID {
				t.pending[p] = pending{id: f.ID, stable: now}
				continue
			}
			if now.Sub(ps.stable) < t.Settle {
				continue
			}
		}
		delete(t.pending, p)
		ch.Ready = append(ch.Ready, f)
	}
	for p := range t.loaded {
		if !present[p] {
			delete(t.loaded, p)
			ch.Removed = append(ch.Removed, p)
		}
	}
	sort.Strings(ch.Removed)
	for p := range t.failed {
		if !present[p] {
			delete(t.failed, p)
		}
	}
	for p := range t.pending {
		if !present[p] {
			delete(t.pending, p)
		}
	}
	return ch
}

// Loaded records that f was read: it is not read again until it changes.
func (t *Tracker) Loaded(f File) {
	t.loaded[f.Path] = f.ID
	delete(t.failed, f.Path)
}

// Failed records that reading f failed: the same version is not read
// again; a new one is. What was read of the file before stays loaded.
func (t *Tracker) Failed(f File) { t.failed[f.Path] = f.ID }

// Forget drops what the tracker knows of path, so that it is read again
// (a file whose contents were dropped for another reason).
func (t *Tracker) Forget(path string) {
	delete(t.loaded, path)
	delete(t.failed, path)
	delete(t.pending, path)
}

// IsLoaded reports whether path is recorded as read.
func (t *Tracker) IsLoaded(path string) bool {
	_, ok := t.loaded[path]
	return ok
}

// CheckDir says, naming the option that set it, why dir cannot be watched:
// it does not exist or is not a directory. Components check at start, so
// that a typo fails the collector instead of loading nothing.
func CheckDir(option, dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", option, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: %s is not a directory", option, dir)
	}
	return nil
}
