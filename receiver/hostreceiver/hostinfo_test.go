package hostreceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestParseOSRelease(t *testing.T) {
	rel := parseOSRelease([]byte(`# comment
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME='Debian GNU/Linux'
VERSION_ID=12
  VERSION="12 (\"bookworm\") \$x \\ \y"
BROKEN LINE
=novalue
ID=debian
`))
	assert.Equal(t, map[string]string{
		"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)",
		"NAME":        "Debian GNU/Linux",
		"VERSION_ID":  "12",
		"VERSION":     `12 ("bookworm") $x \ \y`,
		"ID":          "debian",
	}, rel)
}

func TestOSFromRelease(t *testing.T) {
	for name, c := range map[string]struct {
		rel  string
		want osInfo
	}{
		"debian": {
			`PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
ID=debian`,
			osInfo{family: "debian", name: "Debian GNU/Linux", version: "12", platform: "debian",
				full: "Debian GNU/Linux 12 (bookworm)", kernel: "6.1.0-18-amd64"},
		},
		"ubuntu": {
			`NAME="Ubuntu"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 22.04.4 LTS"
VERSION_ID="22.04"`,
			osInfo{family: "debian", name: "Ubuntu", version: "22.04", platform: "ubuntu",
				full: "Ubuntu 22.04.4 LTS", kernel: "6.1.0-18-amd64"},
		},
		"rocky": {
			`NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"`,
			osInfo{family: "redhat", name: "Rocky Linux", version: "9.3", platform: "rocky",
				full: "Rocky Linux 9.3 (Blue Onyx)", kernel: "6.1.0-18-amd64"},
		},
		"arch, rolling: no version": {
			`NAME="Arch Linux"
PRETTY_NAME="Arch Linux"
ID=arch
BUILD_ID=rolling`,
			osInfo{family: "arch", name: "Arch Linux", platform: "arch", full: "Arch Linux", kernel: "6.1.0-18-amd64"},
		},
		"unknown id, known like": {
			`NAME="Pop!_OS"
ID=pop
ID_LIKE="ubuntu debian"
VERSION="22.04 LTS"`,
			osInfo{family: "debian", name: "Pop!_OS", version: "22.04 LTS", platform: "pop",
				full: "Pop!_OS 22.04 LTS", kernel: "6.1.0-18-amd64"},
		},
		"nothing known": {
			`ID=weird
ID_LIKE="odd"`,
			osInfo{family: "odd", platform: "weird", kernel: "6.1.0-18-amd64"},
		},
	} {
		assert.Equal(t, c.want, osFromRelease(parseOSRelease([]byte(c.rel)), "6.1.0-18-amd64"), name)
	}
	assert.Equal(t, osInfo{kernel: "6.1"}, osFromRelease(nil, "6.1"), "no os-release file")
}

func TestHostResource(t *testing.T) {
	h := hostInfo{
		name: "web-03", id: "3d1219c7c4c5404aaa1f6d2a48adfda4", architecture: "x86_64",
		os:    osInfo{family: "debian", name: "Debian GNU/Linux", version: "12", platform: "debian", full: "Debian GNU/Linux 12 (bookworm)", kernel: "6.1.0-18-amd64"},
		agent: agentInfo{name: "web-03", id: "a-id", version: "0.1.0", ephemeralID: "e-id"},
	}
	m := pcommon.NewMap()
	h.putResource(m)
	assert.Equal(t, map[string]any{
		"host.name": "web-03", "host.id": "3d1219c7c4c5404aaa1f6d2a48adfda4", "host.architecture": "x86_64",
		"host.os.type": "linux", "host.os.family": "debian", "host.os.name": "Debian GNU/Linux",
		"host.os.version": "12", "host.os.platform": "debian", "host.os.full": "Debian GNU/Linux 12 (bookworm)",
		"host.os.kernel": "6.1.0-18-amd64",
		"agent.type":     "cairn", "agent.name": "web-03", "agent.id": "a-id", "agent.version": "0.1.0",
		"agent.ephemeral_id": "e-id",
	}, m.AsRaw())
	m = pcommon.NewMap()
	(&hostInfo{}).putResource(m)
	assert.Equal(t, map[string]any{"host.os.type": "linux", "agent.type": "cairn"}, m.AsRaw(), "unknowns are left out")
}
