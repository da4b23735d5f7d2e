package hostreceiver

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

type capability struct {
	bit  uint
	name string
	why  string
}

// requiredCapabilities lists what each enabled source needs.
func requiredCapabilities(cfg *Config) []capability {
	var need []capability
	add := func(c capability) {
		for _, have := range need {
			if have.bit == c.bit {
				return
			}
		}
		need = append(need, c)
	}
	if cfg.Processes.Enabled {
		add(capability{unix.CAP_NET_ADMIN, "CAP_NET_ADMIN", "process events (proc connector netlink)"})
		add(capability{unix.CAP_SYS_PTRACE, "CAP_SYS_PTRACE", "reading /proc/<pid>/exe, cwd and fd of other users' processes"})
		if cfg.Hashing.Enabled {
			add(capability{unix.CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH", "hashing executables that are not world-readable"})
		}
	}
	if cfg.Connections.Enabled {
		add(capability{unix.CAP_SYS_PTRACE, "CAP_SYS_PTRACE", "attributing connections to processes (/proc/<pid>/fd)"})
	}
	if cfg.DNS.Enabled {
		add(capability{unix.CAP_NET_RAW, "CAP_NET_RAW", "DNS capture (AF_PACKET socket)"})
	}
	if cfg.Audit.Enabled && cfg.Audit.Source == auditSourceNetlink {
		add(capability{unix.CAP_AUDIT_READ, "CAP_AUDIT_READ", "audit events (the kernel's audit multicast group)"})
	}
	return need
}

func effectiveCapabilities() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, err
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32, nil
}

func missingCapabilities(eff uint64, need []capability) error {
	var miss []string
	for _, c := range need {
		if eff&(1<<c.bit) == 0 {
			miss = append(miss, fmt.Sprintf("%s (%s)", c.name, c.why))
		}
	}
	if len(miss) == 0 {
		return nil
	}
	return fmt.Errorf("cairn_host: missing capabilities: %s; run as root, grant them "+
		"(setcap cap_net_admin,cap_net_raw,cap_sys_ptrace,cap_dac_read_search+ep bin/otelcol-cairn, "+
		"or AmbientCapabilities= in the systemd unit), or disable the sources that need them",
		strings.Join(miss, ", "))
}

func checkCapabilities(cfg *Config) error {
	eff, err := effectiveCapabilities()
	if err != nil {
		return fmt.Errorf("cairn_host: reading capabilities: %w", err)
	}
	return missingCapabilities(eff, requiredCapabilities(cfg))
}
