package corpus

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/go-libaudit/v2/aucoalesce"
	"github.com/elastic/go-libaudit/v2/auparse"
	yaml "go.yaml.in/yaml/v3"
)

// Real captures some scenarios are made of. They are read at generation
// time from the copies in testdata (credited in testdata/eval/SOURCES.md) and
// converted into the events the cairn_host receiver would have written for
// the same activity: same executables, arguments, working directories,
// users, parents and destinations, moved to the scenario's day at the same
// time of day.

// Paths relative to the repository's testdata directory.
const (
	tetragonDir = "eval/sources/tetragon/security-observability-with-ebpf"
	auditFile   = "audit/ubuntu-20.04.6-linux-5.15.0-1034-gcp.yaml"
)

type tetragonProcess struct {
	PID       int     `json:"pid"`
	UID       int     `json:"uid"`
	CWD       string  `json:"cwd"`
	Binary    string  `json:"binary"`
	Arguments *string `json:"arguments"`
	StartTime string  `json:"start_time"`
}

type tetragonEvent struct {
	Exec *struct {
		Process tetragonProcess `json:"process"`
		Parent  tetragonProcess `json:"parent"`
	} `json:"process_exec"`
	Connect *struct {
		Process         tetragonProcess `json:"process"`
		SourcePort      int             `json:"source_port"`
		DestinationIP   string          `json:"destination_ip"`
		DestinationPort int             `json:"destination_port"`
		Protocol        string          `json:"protocol"`
	} `json:"process_connect"`
	Time string `json:"time"`
}

func readTetragon(testdata, name string) (*tetragonEvent, error) {
	b, err := os.ReadFile(filepath.Join(testdata, tetragonDir, name))
	if err != nil {
		return nil, err
	}
	var ev tetragonEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if ev.Exec == nil && ev.Connect == nil {
		return nil, fmt.Errorf("%s: neither process_exec nor process_connect", name)
	}
	return &ev, nil
}

// onDay moves a capture's time to the same time of day on day d.
func onDay(d int, ts string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return 0, err
	}
	t = t.UTC()
	return at(d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e6), nil
}

// tetragonArgs turns Tetragon's arguments string (argv without argv[0],
// joined by spaces, arguments with spaces in double quotes) back into argv.
// argv[0] is taken to be the binary, unless the arguments start with it (a
// script's interpreter line: Tetragon then lists the script path first).
func tetragonArgs(p tetragonProcess) []string {
	var args []string
	if p.Arguments != nil {
		args = splitQuoted(*p.Arguments)
	}
	if len(args) > 0 && args[0] == p.Binary {
		return args
	}
	return append([]string{p.Binary}, args...)
}

// splitQuoted splits on spaces outside double quotes, dropping the quotes.
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, started := false, false
	for _, c := range s {
		switch {
		case c == '"':
			quoted = !quoted
			started = true
		case c == ' ' && !quoted:
			if started {
				out = append(out, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteRune(c)
			started = true
		}
	}
	if started {
		out = append(out, cur.String())
	}
	return out
}

// tetragonUser is the fleet's account with the captured uid; an unknown
// uid keeps its number and has no name, as the receiver writes a uid
// /etc/passwd does not know.
func tetragonUser(uid int) user {
	id := strconv.Itoa(uid)
	for _, u := range []user{uRoot, uWWW, uApp} {
		if u.id == id {
			return u
		}
	}
	return user{id: id}
}

// capturedHash stands for the executable's sha256: Tetragon's process
// events carry none, so each captured binary gets a fixed made-up hash,
// unless it is a binary the fleet also has (then the fleet's hash).
func capturedHash(exe string) string { return hashOf("tetragon capture " + exe) }

// auditExec is a process start from a real audit record.
type auditExec struct {
	when     int64 // ms into the day (UTC time of day of the record)
	exe      string
	args     []string
	uid      string
	euid     string
	sequence uint32
}

// readAuditExec reassembles one raw event of a go-libaudit YAML fixture (as
// the cairn_host receiver's audit source does, with aucoalesce) and returns
// the execve it records.
func readAuditExec(testdata, test string) (*auditExec, error) {
	b, err := os.ReadFile(filepath.Join(testdata, auditFile))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Tests map[string]string `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	raw, ok := doc.Tests[test]
	if !ok {
		return nil, fmt.Errorf("%s: no test %q", auditFile, test)
	}
	var msgs []*auparse.AuditMessage
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		m, err := auparse.ParseLogLine(line)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	ev, err := aucoalesce.CoalesceMessages(msgs)
	if err != nil {
		return nil, err
	}
	if ev.Data["syscall"] != "execve" || ev.Result != "success" {
		return nil, fmt.Errorf("%s: %s is not a successful execve", auditFile, test)
	}
	t := ev.Timestamp.UTC()
	return &auditExec{
		when: int64(t.Hour())*hourMS + int64(t.Minute())*60_000 + int64(t.Second())*1000 + int64(t.Nanosecond()/1e6),
		exe:  ev.Process.Exe, args: ev.Process.Args,
		uid: ev.User.IDs["uid"], euid: ev.User.IDs["euid"], sequence: ev.Sequence,
	}, nil
}
