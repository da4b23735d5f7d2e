// Package scenario generates a deterministic synthetic fleet of Linux hosts
// as ECS JSON events, for tests, demos and benchmarks of the first-seen and
// correlation stages.
//
// The shape is chosen so that a first-seen stage with a 24h learning period
// has a known answer: on the first day every host exercises its whole
// repertoire; afterwards it only repeats it, except for an optional
// fleet-wide node_exporter upgrade on day 3 and an optional intrusion on one
// web host on the last day.
//
// The committed sample lives in testdata/scenario/events.ndjson; regenerate
// it with:
//
//go:generate go test . -run TestGoldenFile -update
package scenario

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Facts of the attack, exported so other packages' tests can assert on them
// without parsing the README.
const (
	AttackHash       = "362b700c68ff2dc5c4188d32096b9c3d0f61073b9758cf25ab068b095460b9f9"
	AttackExecutable = "/tmp/.x/gs-netcat"
	AttackDomain     = "l.gs.thc.org"
	AttackUser       = "ext-contractor"
	// AttackBeaconIP is reached by literal address on port 80.
	AttackBeaconIP   = "45.134.26.117"
	AttackBeaconPort = 80
	// AttackRelayIP is what AttackDomain resolves to; reached on port 7350.
	AttackRelayIP   = "193.32.249.56"
	AttackRelayPort = 7350

	// RolloutExecutable keeps its path across the upgrade; only the hash changes.
	RolloutExecutable = "/usr/local/bin/node_exporter"
)

// Offsets of the attack steps from 14:00:00 on the last day.
const (
	attackHour         = 14 * time.Hour
	attackSshdLead     = -2400 * time.Millisecond
	attackNetcatAfter  = 40 * time.Second
	attackBeaconAfter  = 41 * time.Second
	attackDNSAfter     = 41*time.Second + 250*time.Millisecond
	attackRelayAfter   = 41*time.Second + 262*time.Millisecond
	rolloutWindowStart = 10 * time.Hour
	rolloutWindow      = 2 * time.Hour
	rolloutDay         = 3 // 1-based
	maxHosts           = 200 * 250
)

// Config selects a scenario. Zero numeric fields and a zero Start take their
// defaults; Attack and Rollout are taken as given, so start from Default().
//
// Times of day (the rhythm, the 10:00-12:00 rollout, the 14:00 attack) are
// offsets from the start of each day counted from Start, so Start should be a
// midnight UTC for them to read as wall-clock times. The attack happens on
// day Days, the last one.
type Config struct {
	Hosts            int       // fleet size; default 12
	Days             int       // days of normal activity before the attack day ends; default 4
	Start            time.Time // start of day 1; default 2026-03-02T00:00:00Z
	EventsPerHostDay int       // approx. normal events per host per day; default 120
	Seed             int64     // default 1
	Attack           bool      // intrusion on one web host on the last day
	Rollout          bool      // fleet-wide node_exporter upgrade on day 3
}

// Default is the scenario committed as testdata/scenario/events.ndjson.
func Default() Config {
	return Config{
		Hosts:            12,
		Days:             4,
		Start:            time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		EventsPerHostDay: 120,
		Seed:             1,
		Attack:           true,
		Rollout:          true,
	}
}

func (c Config) normalized() (Config, error) {
	d := Default()
	if c.Hosts == 0 {
		c.Hosts = d.Hosts
	}
	if c.Days == 0 {
		c.Days = d.Days
	}
	if c.Start.IsZero() {
		c.Start = d.Start
	}
	if c.EventsPerHostDay == 0 {
		c.EventsPerHostDay = d.EventsPerHostDay
	}
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	c.Start = c.Start.UTC().Truncate(time.Millisecond)
	switch {
	case c.Hosts < 0 || c.Days < 0 || c.EventsPerHostDay < 0:
		return c, errors.New("scenario: Hosts, Days and EventsPerHostDay must not be negative")
	case c.Hosts > maxHosts:
		return c, fmt.Errorf("scenario: at most %d hosts fit the 10.0.0.0/16 layout", maxHosts)
	case c.Rollout && c.Days < rolloutDay:
		return c, fmt.Errorf("scenario: the rollout happens on day %d, so it needs Days >= %d", rolloutDay, rolloutDay)
	case c.Attack && c.Days < 2:
		// On day 1 the attack would fall inside every learning period and
		// nothing would be expected to flag it.
		return c, errors.New("scenario: the attack needs Days >= 2 so that it lands after learning")
	}
	return c, nil
}

// Stats describes what Generate wrote.
type Stats struct {
	Events int
	Bytes  int64
	Hosts  int
	// First and Last are the earliest and latest @timestamp written.
	First, Last time.Time

	ProcessStarts int
	Connections   int
	DNSAnswers    int

	// RolloutEvents counts the node_exporter upgrades (one per host);
	// afterwards every node_exporter start carries RolloutNewHash.
	RolloutEvents  int
	RolloutStart   time.Time // earliest upgrade
	RolloutEnd     time.Time // latest upgrade
	RolloutOldHash string
	RolloutNewHash string

	// AttackEvents counts the five attack events (zsh, gs-netcat, beacon
	// connection, DNS answer, relay connection); the preceding sshd session
	// start is ordinary activity and not counted.
	AttackEvents   int
	AttackHost     string
	AttackHostID   string
	AttackStart    time.Time // the zsh start
	AttackUser     string
	AttackHash     string
	AttackBeaconIP string
	AttackRelayIP  string
	AttackDomain   string
}

// Generate writes the scenario as ECS JSON, one object per line, sorted by
// @timestamp. The output is a pure function of the Config. Only one day of
// events is held in memory at a time.
func Generate(cfg Config, w io.Writer) (Stats, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return Stats{}, err
	}
	g := newGenerator(cfg)
	return g.run(w)
}
