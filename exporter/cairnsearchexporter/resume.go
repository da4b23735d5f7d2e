package cairnsearchexporter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// resumeBytes bounds what a starting offline writer reads back of the files
// of earlier runs (the newest first): the last 64 MiB, by default the whole
// last file. A receiver that moves its checkpoint once ConsumeLogs returned
// (cairn_file) sends the last batch before a crash again, and a batch is
// written to one file with one write: 64 MiB hold a cairn_file batch of its
// default max_batch_events (4096) of documents averaging up to 16 KiB.
var resumeBytes int64 = 64 << 20 // a variable for tests

// resumed is what resume found.
type resumed struct {
	// docs is the number of documents read back (whose keys are kept).
	docs int
	// files are the files read, newest first.
	files []string
	// cut is the number of bytes cut off the end of cutFile: an
	// incomplete last document (a write interrupted by a power loss, or a
	// kill in the middle of a large write), which the receiver sends again.
	cut     int64
	cutFile string
	// err: what could not be read back (or cut); the rest is used.
	err error
}

// docKey identifies a document in the offline files: its _id, and for an
// alert (updated in place, each state with a greater external version) the
// version too, so that a later state of an alert is never taken for one
// already written.
func docKey(alert bool, id string, version int64) string {
	if !alert {
		return id
	}
	return id + "\x00" + strconv.FormatInt(version, 10)
}

// resume reads back the keys of the documents at the tail of the offline
// files of earlier runs, at most resumeBytes of them, newest file first,
// into s.written; write then leaves those documents out. It also cuts an
// incomplete last document off the newest file, so that every file stays
// loadable with one _bulk request. Called before the first write. Its
// errors are not fatal: what it could read is used.
func (s *fileSink) resume() (resumed, error) {
	var r resumed
	files, err := offlineFiles(s.dir)
	if err != nil {
		return r, err
	}
	keys := map[string]struct{}{}
	budget := resumeBytes
	var errs []error
	for i := len(files) - 1; i >= 0 && budget > 0; i-- {
		name := files[i]
		newest := i == len(files)-1
		n, read, err := readBackFile(name, budget, newest, keys, &r)
		if err != nil {
			// The keys read so far still serve; the rest of this file
			// may be written again (harmless: events answer 409).
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		r.docs += n
		r.files = append(r.files, name)
		budget -= max(read, 1)
	}
	if len(keys) > 0 {
		s.written, s.writtenLeft = keys, resumeBytes
	}
	return r, errors.Join(errs...)
}

// readBackFile adds the keys of the complete documents in the last budget
// bytes of the file to keys, and returns how many there were and how many
// bytes it read. For the newest file it also cuts off an incomplete last
// document (see resumed.cut).
func readBackFile(name string, budget int64, newest bool, keys map[string]struct{}, r *resumed) (int, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	from := max(st.Size()-budget, 0)
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return 0, 0, err
	}
	sc := tailScanner{r: bufio.NewReaderSize(f, 256<<10), off: from, aligned: from == 0}
	n := 0
	for {
		key, ok, err := sc.next()
		if err != nil {
			return n, sc.off - from, err
		}
		if !ok {
			break
		}
		keys[key] = struct{}{}
		n++
	}
	if newest && sc.torn() && sc.complete >= from {
		if err := os.Truncate(name, sc.complete); err != nil {
			return n, sc.off - from, fmt.Errorf("cutting off its incomplete last document: %w", err)
		}
		r.cut, r.cutFile = st.Size()-sc.complete, name
	}
	return n, sc.off - from, nil
}

// tailScanner reads _bulk items (an action line, then the document's line)
// from some point of a file: when that is not the start of the file, from
// the first action line after it.
type tailScanner struct {
	r       *bufio.Reader
	off     int64 // offset of the next byte to read
	aligned bool  // off is at the start of a line

	// complete is the offset just after the last complete item; pending
	// is set while an action line waits for its document; partial when
	// the file ended inside a line.
	complete int64
	pending  bool
	partial  bool
	// after counts the lines read after complete (an action line, at
	// most, for a torn end).
	after int
}

// next returns the key of the next complete item; ok is false at the end.
func (t *tailScanner) next() (key string, ok bool, err error) {
	var action []byte
	for {
		line, end, err := t.line()
		if err != nil {
			return "", false, err
		}
		if end {
			return "", false, nil
		}
		if !t.aligned {
			t.aligned = true // the rest of a line cut by the starting point
			continue
		}
		t.after++
		if action == nil {
			k, isAction := actionKey(line)
			if !isAction {
				continue // not where an item starts: look further
			}
			action, key = line, k
			t.pending = true
			continue
		}
		// The document line of the action.
		t.pending = false
		t.complete = t.off
		t.after = 0
		return key, true, nil
	}
}

// line reads one newline-terminated line, keeping at most the first 64 KiB
// of it (enough for an action line); end is set at the end of the file,
// and partial when the file ends inside a line.
func (t *tailScanner) line() (line []byte, end bool, err error) {
	var head []byte
	for {
		chunk, err := t.r.ReadSlice('\n')
		t.off += int64(len(chunk))
		if len(head) < 64<<10 {
			head = append(head, chunk[:min(len(chunk), 64<<10-len(head))]...)
		}
		switch {
		case err == nil:
			return head, false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			t.partial = t.partial || len(head) > 0
			return nil, true, nil
		default:
			return nil, false, err
		}
	}
}

// torn reports whether the file ends with an incomplete item: a line
// without its newline, or an action line without its document, and
// nothing else after the last complete item.
func (t *tailScanner) torn() bool {
	return (t.partial || t.pending) && t.after <= 1
}

// actionKey returns the docKey of a _bulk action line as the exporter
// writes them (create for events, index with an external version for
// alerts); ok is false for any other line.
func actionKey(line []byte) (string, bool) {
	if !bytes.HasPrefix(line, []byte(`{"create":{`)) && !bytes.HasPrefix(line, []byte(`{"index":{`)) {
		return "", false
	}
	type meta struct {
		Index   *string `json:"_index"`
		ID      *string `json:"_id"`
		Version int64   `json:"version"`
	}
	var a struct {
		Create *meta `json:"create"`
		Index  *meta `json:"index"`
	}
	if json.Unmarshal(line, &a) != nil || (a.Create == nil) == (a.Index == nil) {
		return "", false
	}
	if m := a.Create; m != nil && m.Index != nil && m.ID != nil {
		return docKey(false, *m.ID, 0), true
	}
	if m := a.Index; m != nil && m.Index != nil && m.ID != nil {
		return docKey(true, *m.ID, m.Version), true
	}
	return "", false
}
