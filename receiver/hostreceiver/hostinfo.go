package hostreceiver

import (
	"bufio"
	"bytes"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// hostInfo is what describes the host and the agent on every event; it is
// read once at start and written on the resource of every batch.
type hostInfo struct {
	name, id     string
	architecture string
	os           osInfo
	agent        agentInfo
}

// osInfo holds the ECS host.os.* fields.
type osInfo struct {
	family, name, version, platform, full, kernel string
}

// agentInfo holds the ECS agent.* fields.
type agentInfo struct {
	name, id, version, ephemeralID string
}

// agentType is agent.type: what produced the event.
const agentType = "cairn"

func (h *hostInfo) putResource(ra pcommon.Map) {
	putNonEmpty(ra, "host.name", h.name)
	putNonEmpty(ra, "host.id", h.id)
	putNonEmpty(ra, "host.architecture", h.architecture)
	ra.PutStr("host.os.type", "linux")
	putNonEmpty(ra, "host.os.family", h.os.family)
	putNonEmpty(ra, "host.os.name", h.os.name)
	putNonEmpty(ra, "host.os.version", h.os.version)
	putNonEmpty(ra, "host.os.platform", h.os.platform)
	putNonEmpty(ra, "host.os.full", h.os.full)
	putNonEmpty(ra, "host.os.kernel", h.os.kernel)
	ra.PutStr("agent.type", agentType)
	putNonEmpty(ra, "agent.name", h.agent.name)
	putNonEmpty(ra, "agent.id", h.agent.id)
	putNonEmpty(ra, "agent.version", h.agent.version)
	putNonEmpty(ra, "agent.ephemeral_id", h.agent.ephemeralID)
}

// parseOSRelease reads an os-release(5) file: KEY=value lines, values
// optionally quoted with shell quoting; comments and blank lines ignored.
func parseOSRelease(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			continue
		}
		out[k] = unquoteOSRelease(v)
	}
	return out
}

// unquoteOSRelease undoes the quoting os-release(5) allows: single or double
// quotes, and backslash escapes of $ " \ ` inside double quotes.
func unquoteOSRelease(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		q := v[0]
		v = v[1 : len(v)-1]
		if q == '"' && strings.IndexByte(v, '\\') >= 0 {
			var b strings.Builder
			for i := 0; i < len(v); i++ {
				if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("$\"\\`", v[i+1]) >= 0 {
					i++
				}
				b.WriteByte(v[i])
			}
			v = b.String()
		}
	}
	return v
}

// osFamilies maps a distribution id (os-release ID or an ID_LIKE entry) to
// the ECS family: the family names Beats gives (redhat, debian, suse), plus
// the ids that are their own family.
var osFamilies = map[string]string{
	"debian": "debian", "ubuntu": "debian", "raspbian": "debian", "linuxmint": "debian", "kali": "debian",
	"rhel": "redhat", "redhat": "redhat", "fedora": "redhat", "centos": "redhat", "rocky": "redhat",
	"almalinux": "redhat", "ol": "redhat", "amzn": "redhat", "scientific": "redhat",
	"suse": "suse", "sles": "suse", "opensuse": "suse", "opensuse-leap": "suse", "opensuse-tumbleweed": "suse",
	"arch": "arch", "alpine": "alpine", "gentoo": "gentoo", "nixos": "nixos",
}

// osFromRelease turns os-release fields and the kernel release into ECS
// host.os.*: platform is ID, family the known family of ID or of an ID_LIKE
// entry (else the first ID_LIKE entry, else ID), name NAME, version
// VERSION_ID (else VERSION), full PRETTY_NAME (else NAME VERSION).
func osFromRelease(rel map[string]string, kernel string) osInfo {
	o := osInfo{
		platform: strings.ToLower(rel["ID"]),
		name:     rel["NAME"],
		version:  rel["VERSION_ID"],
		full:     rel["PRETTY_NAME"],
		kernel:   kernel,
	}
	if o.version == "" {
		o.version = rel["VERSION"]
	}
	if o.full == "" {
		o.full = strings.TrimSpace(o.name + " " + rel["VERSION"])
	}
	like := strings.Fields(strings.ToLower(rel["ID_LIKE"]))
	for _, id := range append([]string{o.platform}, like...) {
		if f, ok := osFamilies[id]; ok {
			o.family = f
			break
		}
	}
	if o.family == "" {
		if len(like) > 0 {
			o.family = like[0]
		} else {
			o.family = o.platform
		}
	}
	return o
}

// cString returns the text of a NUL-terminated byte array (uname fields).
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
