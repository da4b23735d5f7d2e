package scenario

// The catalogue is fixed data: binaries, accounts and external services.
// Everything a host does is drawn from it, so a change here changes the
// golden file (run the golden test with -update afterwards).

type binDef struct {
	name, exe, version string
	// Daemons are started once at boot by PID 1 and own the network activity
	// of long-running services; -1 for binaries that are only ever children.
	daemonUser int
	daemonArgs []string
}

const (
	bSystemd = iota
	bCron
	bBash
	bCurl
	bApt
	bNodeExporter
	bNodeExporterNew
	bSshd
	bLogrotate
	bTimesyncd
	bRsyslogd
	bNginx
	bNode
	bPostgres
	bPython3
	bCelery
	bZsh
	bSsh
	bGit
	bDocker
	bDockerd
	bGo
	bRunner
	bGsNetcat
	numBins
)

const (
	nodeExporterOld = "1.8.2"
	nodeExporterNew = "1.9.1"
)

var binDefs = [numBins]binDef{
	bSystemd:         {"systemd", "/usr/lib/systemd/systemd", "252.36", -1, nil},
	bCron:            {"cron", "/usr/sbin/cron", "3.0pl1-162", uRoot, []string{"/usr/sbin/cron", "-f"}},
	bBash:            {"bash", "/usr/bin/bash", "5.2.15", -1, nil},
	bCurl:            {"curl", "/usr/bin/curl", "7.88.1", -1, nil},
	bApt:             {"apt", "/usr/bin/apt", "2.6.1", -1, nil},
	bNodeExporter:    {"node_exporter", "/usr/local/bin/node_exporter", nodeExporterOld, uPrometheus, []string{"/usr/local/bin/node_exporter", "--collector.textfile.directory=/var/lib/node_exporter"}},
	bNodeExporterNew: {"node_exporter", "/usr/local/bin/node_exporter", nodeExporterNew, uPrometheus, []string{"/usr/local/bin/node_exporter", "--collector.textfile.directory=/var/lib/node_exporter"}},
	bSshd:            {"sshd", "/usr/sbin/sshd", "9.2p1", uRoot, []string{"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"}},
	bLogrotate:       {"logrotate", "/usr/sbin/logrotate", "3.21.0", -1, nil},
	bTimesyncd:       {"systemd-timesyncd", "/usr/lib/systemd/systemd-timesyncd", "252.36", uTimesync, []string{"/lib/systemd/systemd-timesyncd"}},
	bRsyslogd:        {"rsyslogd", "/usr/sbin/rsyslogd", "8.2302.0", uSyslog, []string{"/usr/sbin/rsyslogd", "-n", "-iNONE"}},
	bNginx:           {"nginx", "/usr/sbin/nginx", "1.22.1", uRoot, []string{"nginx: master process /usr/sbin/nginx -g daemon on; master_process on;"}},
	bNode:            {"node", "/usr/bin/node", "20.19.2", uApp, []string{"/usr/bin/node", "/opt/app/server.js"}},
	bPostgres:        {"postgres", "/usr/lib/postgresql/16/bin/postgres", "16.9", uPostgres, []string{"/usr/lib/postgresql/16/bin/postgres", "-D", "/var/lib/postgresql/16/main", "-c", "config_file=/etc/postgresql/16/main/postgresql.conf"}},
	bPython3:         {"python3", "/usr/bin/python3", "3.11.2", -1, nil},
	bCelery:          {"celery", "/opt/app/venv/bin/celery", "5.4.0", uApp, []string{"/opt/app/venv/bin/python3", "/opt/app/venv/bin/celery", "-A", "app", "worker", "--concurrency=4"}},
	bZsh:             {"zsh", "/usr/bin/zsh", "5.9", -1, nil},
	bSsh:             {"ssh", "/usr/bin/ssh", "9.2p1", -1, nil},
	bGit:             {"git", "/usr/bin/git", "2.39.5", -1, nil},
	bDocker:          {"docker", "/usr/bin/docker", "27.5.1", -1, nil},
	bDockerd:         {"dockerd", "/usr/bin/dockerd", "27.5.1", uRoot, []string{"/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"}},
	bGo:              {"go", "/usr/local/go/bin/go", "1.24.4", -1, nil},
	bRunner:          {"Runner.Listener", "/opt/actions-runner/bin/Runner.Listener", "2.325.0", uRunner, []string{"/opt/actions-runner/bin/Runner.Listener", "run", "--startuptype", "service"}},
	bGsNetcat:        {"gs-netcat", AttackExecutable, "1.4.43", -1, nil},
}

const (
	uRoot = iota
	uDeploy
	uApp
	uWWW
	uPostgres
	uTimesync
	uSyslog
	uPrometheus
	uAlice
	uBob
	uRunner
	uContractor
	numUsers
)

var userDefs = [numUsers]struct{ name, id string }{
	uRoot:       {"root", "0"},
	uDeploy:     {"deploy", "1002"},
	uApp:        {"app", "1001"},
	uWWW:        {"www-data", "33"},
	uPostgres:   {"postgres", "110"},
	uTimesync:   {"systemd-timesync", "997"},
	uSyslog:     {"syslog", "104"},
	uPrometheus: {"prometheus", "998"},
	uAlice:      {"alice", "2001"},
	uBob:        {"bob", "2002"},
	uRunner:     {"runner", "1003"},
	uContractor: {AttackUser, "2150"},
}

type svcDef struct {
	domain string // empty: reached by literal IP, so no DNS answer precedes it
	ips    []string
	port   uint16
	udp    bool
}

const (
	sDeb = iota
	sSecurity
	sPgApt
	sDockerApt
	sPypi
	sPyFiles
	sStripe
	sGitHubAPI
	sGitHub
	sGoProxy
	sGoSum
	sDockerReg
	sDockerAuth
	sNTP
	sHCPing
	sSentry
	sSendgrid
	sS3
	sSlack
	sSyslog
	numSvcs
)

// The addresses are made up but must look public: a first-seen stage skips
// private and special ranges, and the tests check none of these fall there.
var svcDefs = [numSvcs]svcDef{
	sDeb:        {"deb.mirror.example.net", []string{"151.101.2.132", "151.101.66.132"}, 80, false},
	sSecurity:   {"security.mirror.example.net", []string{"151.101.194.132"}, 80, false},
	sPgApt:      {"apt.postgresql.org", []string{"217.196.149.55"}, 443, false},
	sDockerApt:  {"download.docker.com", []string{"18.66.112.58"}, 443, false},
	sPypi:       {"pypi.org", []string{"151.101.128.223"}, 443, false},
	sPyFiles:    {"files.pythonhosted.org", []string{"146.75.116.223"}, 443, false},
	sStripe:     {"api.stripe.com", []string{"54.187.216.72"}, 443, false},
	sGitHubAPI:  {"api.github.com", []string{"140.82.113.5"}, 443, false},
	sGitHub:     {"github.com", []string{"140.82.112.4", "140.82.114.3"}, 443, false},
	sGoProxy:    {"goproxy.mirror.example.net", []string{"142.251.36.49"}, 443, false},
	sGoSum:      {"gosum.mirror.example.net", []string{"142.251.36.17"}, 443, false},
	sDockerReg:  {"registry-1.docker.io", []string{"54.227.20.253", "3.219.239.5"}, 443, false},
	sDockerAuth: {"auth.docker.io", []string{"54.236.113.205"}, 443, false},
	sNTP:        {"2.debian.pool.ntp.org", []string{"162.159.200.1", "194.58.202.148"}, 123, true},
	sHCPing:     {"hc-ping.com", []string{"88.198.57.21"}, 443, false},
	sSentry:     {"o0.ingest.sentry.io", []string{"34.120.195.249"}, 443, false},
	sSendgrid:   {"api.sendgrid.com", []string{"167.89.115.54"}, 443, false},
	sS3:         {"s3.eu-west-1.amazonaws.com", []string{"52.218.36.106", "52.92.19.131"}, 443, false},
	sSlack:      {"hooks.slack.com", []string{"35.71.138.80"}, 443, false},
	sSyslog:     {"", []string{"185.62.13.91"}, 6514, false},
}

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
	numRoles
)

var roleNames = [numRoles]string{"web", "db", "worker", "bastion", "ci"}

// Roles are dealt in this cycle so that any fleet of at least five hosts has
// every role and a fleet of twelve has 4 web, 2 db, 3 worker, 1 bastion, 2 ci.
var roleCycle = [...]role{roleWeb, roleDB, roleWorker, roleBastion, roleCI, roleWeb, roleWorker, roleWeb, roleDB, roleCI, roleWeb, roleWorker}

var roleDaemons = [numRoles][]int{
	roleWeb:     {bNginx, bNode},
	roleDB:      {bPostgres},
	roleWorker:  {bCelery},
	roleBastion: nil,
	roleCI:      {bDockerd, bRunner},
}

var commonDaemons = []int{bCron, bSshd, bRsyslogd, bTimesyncd, bNodeExporter}

// Relative activity per UTC hour: quiet nights, a business-day plateau.
var hourWeights = [24]float64{
	0.35, 0.30, 0.30, 0.30, 0.35, 0.45, 0.60, 0.85,
	1.15, 1.40, 1.50, 1.50, 1.35, 1.45, 1.50, 1.45,
	1.35, 1.15, 0.95, 0.80, 0.65, 0.55, 0.45, 0.40,
}
