package sigma

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// check compiles a process_creation rule and checks it against events:
// yes must match, no must not.
func check(t *testing.T, detection string, yes, no []map[string]any) {
	t.Helper()
	set := compile(t, ruleYAML(detection))
	for _, e := range yes {
		assert.True(t, matches(t, set, e), "should match: %v", e)
	}
	for _, e := range no {
		assert.False(t, matches(t, set, e), "should not match: %v", e)
	}
}

func exe(path string) map[string]any { return proc(map[string]any{"process.executable": path}) }
func cmd(line string) map[string]any { return proc(map[string]any{"process.command_line": line}) }

func TestPlainValues(t *testing.T) {
	t.Run("case-insensitive equality", func(t *testing.T) {
		check(t, "selection:\n    Image: '/usr/bin/BASH'\ncondition: selection\n",
			[]map[string]any{exe("/usr/bin/bash"), exe("/USR/BIN/Bash")},
			[]map[string]any{exe("/usr/bin/bash5"), exe("/bin/bash"), proc(nil)})
	})
	t.Run("wildcards", func(t *testing.T) {
		check(t, "selection:\n    Image: '/tmp/*/x?'\ncondition: selection\n",
			[]map[string]any{exe("/tmp/a/x1"), exe("/tmp/a/b/xé"), exe("/TMP//XZ")},
			[]map[string]any{exe("/tmp/a/x"), exe("/tmp/a/x12"), exe("/var/tmp/a/x1")})
	})
	t.Run("escaped wildcards are plain", func(t *testing.T) {
		check(t, `selection:
    CommandLine: 'echo \*\?'
condition: selection
`, []map[string]any{cmd("echo *?")}, []map[string]any{cmd("echo ab"), cmd("echo a?")})
	})
	t.Run("a backslash before another character is plain", func(t *testing.T) {
		// \W is a backslash and W; \\* a backslash and a wildcard; \* a star.
		check(t, `selection:
    CommandLine: 'C:\Windows\\*'
condition: selection
`, []map[string]any{cmd(`c:\windows\system32`)}, []map[string]any{cmd(`C:Windows`), cmd(`C:\Windows`)})
		check(t, `selection:
    CommandLine: 'C:\Windows\*'
condition: selection
`, []map[string]any{cmd(`c:\windows*`)}, []map[string]any{cmd(`C:\Windows\x`)})
	})
	t.Run("list is OR", func(t *testing.T) {
		check(t, "selection:\n    Image:\n        - '/bin/sh'\n        - '/bin/bash'\ncondition: selection\n",
			[]map[string]any{exe("/bin/sh"), exe("/bin/bash")}, []map[string]any{exe("/bin/zsh")})
	})
	t.Run("map is AND, list of maps is OR", func(t *testing.T) {
		check(t, `selection:
    - Image: '/usr/bin/curl'
      CommandLine|contains: '-T'
    - Image: '/usr/bin/scp'
condition: selection
`, []map[string]any{
			proc(map[string]any{"process.executable": "/usr/bin/curl", "process.command_line": "curl -T f http://x"}),
			exe("/usr/bin/scp"),
		}, []map[string]any{exe("/usr/bin/curl"), cmd("curl -T f")})
	})
	t.Run("empty string", func(t *testing.T) {
		check(t, "selection:\n    CurrentDirectory: ''\ncondition: selection\n",
			[]map[string]any{proc(map[string]any{"process.working_directory": ""})},
			[]map[string]any{proc(map[string]any{"process.working_directory": "/"}), proc(nil)})
	})
	t.Run("null is absent", func(t *testing.T) {
		check(t, "selection:\n    Image|endswith: '/sh'\nfilter:\n    ParentImage: null\ncondition: selection and filter\n",
			[]map[string]any{exe("/bin/sh")},
			[]map[string]any{proc(map[string]any{"process.executable": "/bin/sh", "process.parent.executable": "/bin/x"})})
	})
	t.Run("numbers match integers and their text", func(t *testing.T) {
		check(t, "selection:\n    ProcessId: 4444\ncondition: selection\n",
			[]map[string]any{proc(map[string]any{"process.pid": int64(4444)}), proc(map[string]any{"process.pid": "4444"})},
			[]map[string]any{proc(map[string]any{"process.pid": int64(44444)})})
	})
	t.Run("booleans", func(t *testing.T) {
		check(t, "selection:\n    cairn.process.exe_deleted: true\ncondition: selection\n",
			[]map[string]any{proc(map[string]any{"cairn.process.exe_deleted": true})},
			[]map[string]any{proc(map[string]any{"cairn.process.exe_deleted": false}), proc(nil)})
	})
}

func TestStringModifiers(t *testing.T) {
	t.Run("contains startswith endswith", func(t *testing.T) {
		check(t, `a:
    CommandLine|contains: 'import pty'
b:
    Image|startswith: '/dev/shm/'
c:
    Image|endswith: '/nc'
condition: a or b or c
`, []map[string]any{cmd("python3 -c 'import PTY'"), exe("/dev/shm/x"), exe("/usr/bin/NC")},
			[]map[string]any{cmd("import ptz"), exe("/x/dev/shm/x"), exe("/usr/bin/ncat")})
	})
	t.Run("all", func(t *testing.T) {
		check(t, "selection:\n    CommandLine|contains|all:\n        - ' -c '\n        - 'socket'\ncondition: selection\n",
			[]map[string]any{cmd("python -c 'import socket'")},
			[]map[string]any{cmd("python -c 'import os'"), cmd("socket")})
	})
	t.Run("cased", func(t *testing.T) {
		check(t, "selection:\n    CommandLine|cased|contains: ' -O '\ncondition: selection\n",
			[]map[string]any{cmd("wget -O /tmp/x")}, []map[string]any{cmd("wget -o /tmp/x")})
	})
	t.Run("windash", func(t *testing.T) {
		check(t, "selection:\n    CommandLine|windash|contains: ' -e '\ncondition: selection\n",
			[]map[string]any{cmd("nc -e sh"), cmd("nc /e sh"), cmd("nc \u2013e sh"), cmd("nc \u2014e sh"), cmd("nc \u2015e sh")},
			[]map[string]any{cmd("nc +e sh"), cmd("nc e sh")})
	})
	t.Run("base64", func(t *testing.T) {
		// "whoami" is d2hvYW1p in base64.
		check(t, "selection:\n    CommandLine|base64|contains: 'whoami'\ncondition: selection\n",
			[]map[string]any{cmd("echo d2hvYW1p | base64 -d | sh")},
			[]map[string]any{cmd("echo whoami")})
	})
	t.Run("base64offset", func(t *testing.T) {
		// The three offsets of "/bin/sh -i" inside longer base64 text.
		check(t, "selection:\n    CommandLine|base64offset|contains: '/bin/sh -i'\ncondition: selection\n",
			[]map[string]any{cmd("echo L2Jpbi9zaCAtaQ== | base64 -d"), cmd("x YL2Jpbi9zaCAtaQ"), cmd("x eCAvYmluL3NoIC1p")},
			[]map[string]any{cmd("echo /bin/sh -i")})
	})
}

func TestBase64OffsetAsTheRulesWriteIt(t *testing.T) {
	// SigmaHQ's crypto mining rule (proc_creation_lnx_crypto_mining.yml)
	// lists the base64 offsets of two strings by hand; the modifier must
	// give the same.
	got := func(s string) []string {
		var out []string
		for _, p := range base64Patterns(s, true) {
			out = append(out, p.text())
		}
		return out
	}
	assert.Equal(t, []string{"LS1kb25hdGUtbGV2ZWw9", "0tZG9uYXRlLWxldmVsP", "tLWRvbmF0ZS1sZXZlbD"}, got("--donate-level="))
	assert.Equal(t, []string{"c3RyYXR1bSt0Y3A6Ly", "N0cmF0dW0rdGNwOi8v", "zdHJhdHVtK3RjcDovL"}, got("stratum+tcp://"))
}

func TestRegex(t *testing.T) {
	t.Run("searched, case-sensitive", func(t *testing.T) {
		check(t, "selection:\n    CommandLine|re: '\\s-[FTd]\\s'\ncondition: selection\n",
			[]map[string]any{cmd("curl -F a=b http://x"), cmd("curl -d x y")},
			[]map[string]any{cmd("curl -f x"), cmd("curl -D x")})
	})
	t.Run("flags", func(t *testing.T) {
		check(t, "selection:\n    CommandLine|re|i|s: '^curl.+ -d'\ncondition: selection\n",
			[]map[string]any{cmd("CURL\nx -D")}, []map[string]any{cmd("wget -d")})
		check(t, "selection:\n    CommandLine|re|m: '^rm -rf$'\ncondition: selection\n",
			[]map[string]any{cmd("echo\nrm -rf\nls")}, []map[string]any{cmd("echo rm -rf")})
	})
	t.Run("not RE2", func(t *testing.T) {
		u := unsupportedOf(t, ruleYAML("selection:\n    CommandLine|re: '(?=foo)bar'\ncondition: selection\n"))
		assert.Equal(t, ReasonRegex, u.Reason)
		assert.Contains(t, u.Detail, "RE2")
	})
}

func TestCIDR(t *testing.T) {
	set := compile(t, `title: C
id: c
level: low
logsource: {category: network_connection, product: linux}
detection:
    selection:
        DestinationIp|cidr:
            - '10.0.0.0/8'
            - 'fc00::/7'
    condition: selection
`)
	assert.True(t, matches(t, set, conn(map[string]any{"destination.ip": "10.1.2.3"})))
	assert.True(t, matches(t, set, conn(map[string]any{"destination.ip": "::ffff:10.1.2.3"})), "v4-mapped")
	assert.True(t, matches(t, set, conn(map[string]any{"destination.ip": "fd00::1"})))
	assert.False(t, matches(t, set, conn(map[string]any{"destination.ip": "11.1.2.3"})))
	assert.False(t, matches(t, set, conn(map[string]any{"destination.ip": "not an ip"})))
	_, _, err := ParseFile("x.yml", []byte(ruleYAML("selection:\n    Image|cidr: '10.0.0/8'\ncondition: selection\n")))
	assert.ErrorContains(t, err, "cidr")
}

func TestExistsAndComparisons(t *testing.T) {
	check(t, "selection:\n    CurrentDirectory|exists: true\nfilter:\n    ParentImage|exists: false\ncondition: selection and filter\n",
		[]map[string]any{proc(map[string]any{"process.working_directory": "/"})},
		[]map[string]any{proc(nil), proc(map[string]any{"process.working_directory": "/", "process.parent.executable": "/x"})})
	check(t, "selection:\n    ProcessId|gte: 1000\nfilter:\n    ProcessId|lt: 2000\ncondition: selection and filter\n",
		[]map[string]any{proc(map[string]any{"process.pid": int64(1000)}), proc(map[string]any{"process.pid": "1999"})},
		[]map[string]any{proc(map[string]any{"process.pid": int64(2000)}), proc(map[string]any{"process.pid": "abc"}), proc(nil)})
}

func TestModifierErrors(t *testing.T) {
	for name, det := range map[string]string{
		"re after contains":     "s:\n    CommandLine|contains|re: 'x'\ncondition: s\n",
		"base64 with wildcards": "s:\n    CommandLine|base64: 'a*'\ncondition: s\n",
		"exists on a string":    "s:\n    CommandLine|exists: 'yes'\ncondition: s\n",
		"flag without re":       "s:\n    CommandLine|i: 'x'\ncondition: s\n",
		"gt on a string":        "s:\n    ProcessId|gt: 'many'\ncondition: s\n",
	} {
		_, _, err := ParseFile("x.yml", []byte(ruleYAML(det)))
		assert.Error(t, err, name)
	}
	for mod, want := range map[string]string{"neq": "not supported", "expand": "placeholders", "wide": "UTF-16", "frobnicate": "unknown modifier"} {
		u := unsupportedOf(t, ruleYAML("s:\n    CommandLine|"+mod+": 'x'\ncondition: s\n"))
		assert.Equal(t, ReasonModifier, u.Reason, mod)
		assert.Contains(t, u.Detail, want, mod)
	}
}

func TestArraysMatchAnyElement(t *testing.T) {
	check(t, "selection:\n    process.args|contains: '--donate'\ncondition: selection\n",
		[]map[string]any{proc(map[string]any{"process.args": []any{"xmrig", "--donate-level=0"}})},
		[]map[string]any{proc(map[string]any{"process.args": []any{"xmrig", "-o", "pool"}})})
}

func TestRegexLimit(t *testing.T) {
	big := make([]byte, MaxRegexBytes+1)
	for i := range big {
		big[i] = 'a'
	}
	u := unsupportedOf(t, ruleYAML("s:\n    CommandLine|re: '"+string(big)+"'\ncondition: s\n"))
	require.Equal(t, ReasonLimit, u.Reason)
}
