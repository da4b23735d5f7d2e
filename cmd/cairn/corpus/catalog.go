package corpus

import (
	"crypto/sha256"
	"encoding/hex"
)

// The catalogue is fixed data: binaries, accounts and external services of
// the fleet every scenario runs on. A change here changes every scenario's
// events (regenerate with: go test ./cmd/cairn/corpus -run TestGolden -update).

type user struct{ name, id string }

var (
	uRoot       = user{"root", "0"}
	uWWW        = user{"www-data", "33"}
	uApt        = user{"_apt", "42"}
	uPostgres   = user{"postgres", "110"}
	uElastic    = user{"elasticsearch", "111"}
	uTimesync   = user{"systemd-timesync", "997"}
	uPrometheus = user{"prometheus", "998"}
	uDeploy     = user{"deploy", "1002"}
	uRunner     = user{"runner", "1003"}
	// uApp runs the Python workers. Its uid is the one of the real audit
	// record the reverse-shell scenario replays (a setuid shell started by
	// uid 1005), so that record keeps its user.
	uApp   = user{"app", "1005"}
	uAlice = user{"alice", "2001"}
	uBob   = user{"bob", "2002"}
	// uContractor is the seed scenario's attacker account.
	uContractor = user{"ext-contractor", "2150"}
)

// binary is one build of one executable: every host that runs the same
// package version has the same hash, as with real packages.
type binary struct {
	exe, version, hash string
}

func newBinary(exe, version string) *binary {
	return &binary{exe: exe, version: version, hash: hashOf("cairn-eval binary " + exe + " " + version)}
}

// withHash is a binary whose hash is given (a known sample, e.g. the seed's
// gs-netcat on the scenario feed).
func withHash(exe, version, hash string) *binary {
	return &binary{exe: exe, version: version, hash: hash}
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Package versions of the fleet's base image (Debian 12). Keys name what an
// activity runs; a host maps each key to the build it has installed, so an
// upgrade or a newer image changes the hash while activities stay the same.
var baseImage = map[string][2]string{
	"cron":             {"/usr/sbin/cron", "3.0pl1-162"},
	"sh":               {"/usr/bin/dash", "0.5.12-2"},
	"bash":             {"/usr/bin/bash", "5.2.15-2+b7"},
	"curl":             {"/usr/bin/curl", "7.88.1-10+deb12u12"},
	"apt-get":          {"/usr/bin/apt-get", "2.6.1"},
	"apt-http":         {"/usr/lib/apt/methods/http", "2.6.1"},
	"node_exporter":    {"/usr/local/bin/node_exporter", "1.8.2"},
	"sshd":             {"/usr/sbin/sshd", "1:9.2p1-2+deb12u5"},
	"ssh":              {"/usr/bin/ssh", "1:9.2p1-2+deb12u5"},
	"logrotate":        {"/usr/sbin/logrotate", "3.21.0-1"},
	"timesyncd":        {"/usr/lib/systemd/systemd-timesyncd", "252.36-1~deb12u1"},
	"rsyslogd":         {"/usr/sbin/rsyslogd", "8.2302.0-1"},
	"sudo":             {"/usr/bin/sudo", "1.9.13p3-1+deb12u1"},
	"systemctl":        {"/usr/bin/systemctl", "252.36-1~deb12u1"},
	"journalctl":       {"/usr/bin/journalctl", "252.36-1~deb12u1"},
	"systemd":          {"/usr/lib/systemd/systemd", "252.36-1~deb12u1"},
	"nginx":            {"/usr/sbin/nginx", "1.22.1-9+deb12u1"},
	"php-fpm":          {"/usr/sbin/php-fpm8.2", "8.2.28-1~deb12u1"},
	"sendmail":         {"/usr/sbin/sendmail", "3.7.11-0+deb12u1"},
	"convert":          {"/usr/bin/convert-im6.q16", "8:6.9.11.60+dfsg-1.6+deb12u2"},
	"postgres":         {"/usr/lib/postgresql/16/bin/postgres", "16.9-1.pgdg120+1"},
	"pg_dump":          {"/usr/lib/postgresql/16/bin/pg_dump", "16.9-1.pgdg120+1"},
	"tar":              {"/usr/bin/tar", "1.34+dfsg-1.2+deb12u1"},
	"gzip":             {"/usr/bin/gzip", "1.12-1"},
	"rsync":            {"/usr/bin/rsync", "3.2.7-1+deb12u2"},
	"python3":          {"/usr/bin/python3.11", "3.11.2-6+deb12u5"},
	"zsh":              {"/usr/bin/zsh", "5.9-4+b5"},
	"runner-listener":  {"/opt/actions-runner/bin/Runner.Listener", "2.325.0"},
	"runner-worker":    {"/opt/actions-runner/bin/Runner.Worker", "2.325.0"},
	"git":              {"/usr/bin/git", "1:2.39.5-0+deb12u2"},
	"git-remote-https": {"/usr/lib/git-core/git-remote-http", "1:2.39.5-0+deb12u2"},
	"go":               {"/usr/local/go/bin/go", "1.24.4"},
	"docker":           {"/usr/bin/docker", "27.5.1"},
	"dockerd":          {"/usr/bin/dockerd", "27.5.1"},
	"java":             {"/usr/share/elasticsearch/jdk/bin/java", "8.17.0"},
}

// Binaries that only attacks or the quiet scenarios' one-off jobs run; they
// never appear in the ordinary fleet activity.
var extraBinaries = map[string][2]string{
	"id":       {"/usr/bin/id", "9.1-1"},
	"uname":    {"/usr/bin/uname", "9.1-1"},
	"chmod":    {"/usr/bin/chmod", "9.1-1"},
	"cat":      {"/usr/bin/cat", "9.1-1"},
	"nc":       {"/usr/bin/nc.traditional", "1.10-47"},
	"7z":       {"/usr/bin/7z", "16.02+dfsg-8"},
	"scp":      {"/usr/bin/scp", "1:9.2p1-2+deb12u5"},
	"dpkg":     {"/usr/bin/dpkg", "1.21.22"},
	"ldconfig": {"/usr/sbin/ldconfig", "2.36-9+deb12u10"},
	"openssl":  {"/usr/bin/openssl", "3.0.16-1~deb12u1"},
}

// Versions a fleet-wide upgrade installs (scenario h) and a host built from
// a newer image has (scenario j).
var upgradedVersions = map[string]string{
	"curl":    "7.88.1-10+deb12u14",
	"sshd":    "1:9.2p1-2+deb12u7",
	"ssh":     "1:9.2p1-2+deb12u7",
	"scp":     "1:9.2p1-2+deb12u7",
	"openssl": "3.0.17-1~deb12u2",
	"nginx":   "1.22.1-9+deb12u2",
	"php-fpm": "8.2.29-1~deb12u1",
}

func catalogBinary(key string) *binary {
	if d, ok := baseImage[key]; ok {
		return newBinary(d[0], d[1])
	}
	if d, ok := extraBinaries[key]; ok {
		return newBinary(d[0], d[1])
	}
	panic("corpus: no binary " + key)
}

func upgradedBinary(key string) *binary {
	exe := baseImage[key][0]
	if exe == "" {
		exe = extraBinaries[key][0]
	}
	return newBinary(exe, upgradedVersions[key])
}

// service is an external endpoint the fleet reaches. The addresses are made
// up but public-looking (no private, special or documentation range; the
// tests check it), so that first-seen stages treat them as external.
type service struct {
	domain string // empty: reached by literal address, no DNS answer first
	ips    []string
	port   int
	udp    bool
}

var (
	svcDebian    = service{"deb.debian.org", []string{"151.101.2.132", "151.101.66.132"}, 80, false}
	svcSecurity  = service{"security.debian.org", []string{"151.101.194.132"}, 80, false}
	svcPgApt     = service{"apt.postgresql.org", []string{"217.196.149.55"}, 80, false}
	svcHCPing    = service{"hc-ping.com", []string{"88.198.57.21"}, 443, false}
	svcStripe    = service{"api.stripe.com", []string{"54.187.216.72"}, 443, false}
	svcSentry    = service{"o0.ingest.sentry.io", []string{"34.120.195.249"}, 443, false}
	svcSendgrid  = service{"api.sendgrid.com", []string{"167.89.115.54"}, 443, false}
	svcS3        = service{"s3.eu-west-1.amazonaws.com", []string{"52.218.36.106", "52.92.19.131"}, 443, false}
	svcGitHubAPI = service{"api.github.com", []string{"140.82.113.5"}, 443, false}
	svcGitHub    = service{"github.com", []string{"140.82.112.4", "140.82.114.3"}, 443, false}
	svcGoProxy   = service{"proxy.golang.org", []string{"142.251.36.49"}, 443, false}
	svcGoSum     = service{"sum.golang.org", []string{"142.251.36.17"}, 443, false}
	svcRegistry  = service{"registry-1.docker.io", []string{"54.227.20.253"}, 443, false}
	svcDockAuth  = service{"auth.docker.io", []string{"54.236.113.205"}, 443, false}
	svcNTP       = service{"2.debian.pool.ntp.org", []string{"162.159.200.1", "194.58.202.148"}, 123, true}
	svcSyslog    = service{"", []string{"185.62.13.91"}, 6514, false}
	svcPypi      = service{"pypi.org", []string{"151.101.128.223"}, 443, false}
	svcPyFiles   = service{"files.pythonhosted.org", []string{"146.75.116.223"}, 443, false}
	svcGeoIP     = service{"geoip.elastic.co", []string{"34.120.127.130"}, 443, false}
	// svcBackup is the off-site backup server the database hosts push their
	// nightly dumps to with rsync over ssh.
	svcBackup = service{"backup.offsite.example.net", []string{"95.216.88.34"}, 22, false}
)

// allServices lists the catalogue for the address tests.
var allServices = []service{svcDebian, svcSecurity, svcPgApt, svcHCPing, svcStripe, svcSentry, svcSendgrid,
	svcS3, svcGitHubAPI, svcGitHub, svcGoProxy, svcGoSum, svcRegistry, svcDockAuth, svcNTP, svcSyslog,
	svcPypi, svcPyFiles, svcGeoIP, svcBackup}

const (
	resolverIP = "10.0.0.2"
	metadataIP = "169.254.169.254"
)

type role int

const (
	roleWeb role = iota
	roleDB
	roleWorker
	roleBastion
	roleCI
	roleSearch
)

var roleNames = map[role]string{roleWeb: "web", roleDB: "db", roleWorker: "worker", roleBastion: "bastion", roleCI: "ci", roleSearch: "search"}

// fleetLayout is the fleet of every scenario: 24 hosts.
var fleetLayout = []struct {
	role  role
	count int
}{
	{roleWeb, 7}, {roleDB, 3}, {roleWorker, 7}, {roleBastion, 1}, {roleCI, 3}, {roleSearch, 3},
}

// Relative activity per UTC hour: quiet nights, a business-day plateau.
var hourWeights = [24]float64{
	0.35, 0.30, 0.30, 0.30, 0.35, 0.45, 0.60, 0.85,
	1.15, 1.40, 1.50, 1.50, 1.35, 1.45, 1.50, 1.45,
	1.35, 1.15, 0.95, 0.80, 0.65, 0.55, 0.45, 0.40,
}
