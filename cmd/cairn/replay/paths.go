package replay

import (
	"io/fs"
	"os"
	"path/filepath"
)

// checkPaths refuses --input, --output and --state combinations that would
// destroy data, before anything is opened for writing: an output that is
// the input (os.Create would empty it before the first line is read, and
// the run would "succeed" with 0 events) or the --config file, a --state
// that is the input or
// output file, and an output among the state directory's files (the
// storage extension's databases). Files are compared by device and inode,
// so symbolic links, hard links and other spellings of a path are caught
// too. "-" is compared through the file behind stdin / stdout when that is
// a regular file (`--input - < X --output X`, `--input X --output - >> X`).
func checkPaths(o Options) error {
	in, inName := pathInfo(o.InputPath, o.Stdin, "--input", "stdin")
	out, outName := pathInfo(o.OutputPath, o.Stdout, "--output", "stdout")
	if in != nil && out != nil && os.SameFile(in, out) {
		return usage("%s and %s are the same file: the replay would write over (or append to) the input it reads; write the output to another file", inName, outName)
	}
	if cfg, err := os.Stat(o.ConfigPath); err == nil && out != nil && os.SameFile(cfg, out) {
		return usage("%s is the --config file %s: writing the output would destroy the configuration; write the output to another file", outName, o.ConfigPath)
	}
	if o.StateDir == "" {
		return nil
	}
	if o.OutputPath != "-" && samePath(o.StateDir, o.OutputPath) {
		return usage("--state and --output are the same path (%s): --state takes a directory, --output a file", o.OutputPath)
	}
	st, err := os.Stat(o.StateDir)
	if err != nil {
		return nil // a new state directory: created later
	}
	switch {
	case in != nil && os.SameFile(st, in):
		return usage("--state %s is the input file (%s): --state takes a directory", o.StateDir, inName)
	case out != nil && os.SameFile(st, out):
		return usage("--state %s is the output file (%s): --state takes a directory", o.StateDir, outName)
	case !st.IsDir():
		return usage("--state %s is not a directory", o.StateDir)
	}
	if o.OutputPath == "-" {
		return nil
	}
	// The output's directory, through symbolic links: a new file there
	// would sit among the storage files (or become one).
	target := o.OutputPath
	if r, err := filepath.EvalSymlinks(target); err == nil {
		target = r
	}
	if dir, err := os.Stat(filepath.Dir(target)); err == nil && os.SameFile(dir, st) {
		return usage("--output %s is in the --state directory %s, among the state files; write it elsewhere", o.OutputPath, o.StateDir)
	}
	if out == nil {
		return nil
	}
	entries, err := os.ReadDir(o.StateDir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if fi, err := os.Stat(filepath.Join(o.StateDir, e.Name())); err == nil && os.SameFile(fi, out) {
			return usage("--output %s is the state file %s (a hard link to it): write the output elsewhere", o.OutputPath, filepath.Join(o.StateDir, e.Name()))
		}
	}
	return nil
}

// samePath compares two paths that need not exist yet.
func samePath(a, b string) bool {
	a, errA := filepath.Abs(a)
	b, errB := filepath.Abs(b)
	return errA == nil && errB == nil && a == b
}

// pathInfo stats a path argument, or for "-" the process's stdin / stdout
// (or the reader / writer standing in for them) when it is a regular file;
// nil when there is nothing to compare.
func pathInfo(path string, std any, flag, stdName string) (fs.FileInfo, string) {
	if path != "-" {
		fi, err := os.Stat(path)
		if err != nil || fi.IsDir() {
			return nil, ""
		}
		return fi, flag + " " + path
	}
	if std == nil {
		std = os.Stdout
		if stdName == "stdin" {
			std = os.Stdin
		}
	}
	f, ok := std.(*os.File)
	if !ok || f == nil {
		return nil, ""
	}
	fi, err := f.Stat()
	// Terminals, pipes and sockets: the same terminal may well be both.
	if err != nil || !fi.Mode().IsRegular() {
		return nil, ""
	}
	return fi, flag + " - (" + stdName + ", " + f.Name() + ")"
}

// stateInUse returns the error for a state directory whose storage files
// another process holds (the file_storage extension keeps each of its bbolt
// databases locked while open), or nil. It probes without waiting: bbolt
// itself would wait for its timeout and then only say "timeout".
func stateInUse(dir string) error {
	if dir == "" {
		return nil
	}
	if locked := lockedFile(dir); locked != "" {
		return usage("--state %s is in use by another process: its lock file %s is held (a cairn replay or a collector is using this state directory); wait for it to finish or use another --state directory", dir, locked)
	}
	return nil
}
