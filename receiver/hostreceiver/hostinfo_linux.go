package hostreceiver

import (
	"go.opentelemetry.io/collector/receiver"
	"golang.org/x/sys/unix"

	"github.com/cairnsec/cairn/internal/procfs"
)

// procCacheSize bounds the process instances whose executable and entry
// leader are remembered (parents and leaders: long-lived shells, sshd
// sessions, services).
const procCacheSize = 8192

// readHostInfo reads, once at start, what describes the host (uname, the
// os-release file) and derives the agent fields.
func readHostInfo(procRoot, hostName, hostID string, set receiver.Settings) hostInfo {
	var uts unix.Utsname
	kernel, arch := "", ""
	if unix.Uname(&uts) == nil {
		kernel, arch = cString(uts.Release[:]), cString(uts.Machine[:])
	}
	return hostInfo{
		name:         hostName,
		id:           hostID,
		architecture: arch,
		os:           osFromRelease(readOSRelease(procRoot), kernel),
		agent: agentInfo{
			// Beats name an agent after its host unless told otherwise.
			name:        hostName,
			id:          agentID(hostID, set.ID.String()),
			version:     set.BuildInfo.Version,
			ephemeralID: ephemeralID(),
		},
	}
}

// readOSRelease reads the host's os-release file. Through pid 1's root
// first: a receiver in a container that shares the host's pid namespace
// then describes the host, not its own image (elsewhere that root is its
// own). Then /etc/os-release and /usr/lib/os-release, in the order
// os-release(5) gives.
func readOSRelease(procRoot string) map[string]string {
	for _, p := range []string{
		procRoot + "/1/root/etc/os-release", procRoot + "/1/root/usr/lib/os-release",
		"/etc/os-release", "/usr/lib/os-release",
	} {
		// Read as root through pid 1's root, which a container's pid 1
		// controls: never blocking on what is there (a FIFO), never more
		// than an os-release file can be.
		if b, err := procfs.ReadRegularFile(p, 64<<10); err == nil && len(b) > 0 {
			return parseOSRelease(b)
		}
	}
	return nil
}
