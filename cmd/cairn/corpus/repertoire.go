package corpus

import (
	"fmt"
	"math/rand/v2"
)

// The ordinary activity of the fleet. Every host performs all of its
// activities on its first day and only repeats them afterwards, so that
// after learning nothing it does is new: whatever a first-seen stage flags
// on day 2 or 3 comes from a scenario's attack or one-off job.

type daemonDef struct {
	key  string
	usr  user
	cwd  string
	args []string
}

var commonDaemons = []daemonDef{
	{"cron", uRoot, "/", []string{"/usr/sbin/cron", "-f"}},
	{"sshd", uRoot, "/", []string{"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"}},
	{"rsyslogd", uRoot, "/", []string{"/usr/sbin/rsyslogd", "-n", "-iNONE"}},
	{"timesyncd", uTimesync, "/", []string{"/lib/systemd/systemd-timesyncd"}},
	{"node_exporter", uPrometheus, "/", []string{"/usr/local/bin/node_exporter", "--collector.textfile.directory=/var/lib/node_exporter"}},
}

var roleDaemons = map[role][]daemonDef{
	roleWeb: {
		{"nginx", uRoot, "/", []string{"/usr/sbin/nginx", "-g", "daemon on; master_process on;"}},
		{"php-fpm", uRoot, "/", []string{"/usr/sbin/php-fpm8.2", "--nodaemonize", "--fpm-config", "/etc/php/8.2/fpm/php-fpm.conf"}},
	},
	roleDB: {
		{"postgres", uPostgres, "/var/lib/postgresql", []string{"/usr/lib/postgresql/16/bin/postgres", "-D", "/var/lib/postgresql/16/main", "-c", "config_file=/etc/postgresql/16/main/postgresql.conf"}},
	},
	roleWorker: {
		{"python3", uApp, "/opt/app", []string{"/opt/app/venv/bin/python3", "/opt/app/venv/bin/celery", "-A", "app", "worker", "--concurrency=4"}},
	},
	roleCI: {
		{"dockerd", uRoot, "/", []string{"/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"}},
		{"runner-listener", uRunner, "/opt/actions-runner", []string{"/opt/actions-runner/bin/Runner.Listener", "run", "--startuptype", "service"}},
	},
	roleSearch: {
		{"java", uElastic, "/usr/share/elasticsearch", []string{"/usr/share/elasticsearch/jdk/bin/java", "-Xms4g", "-Xmx4g", "-XX:+UseG1GC",
			"-Des.path.home=/usr/share/elasticsearch", "-Des.path.conf=/etc/elasticsearch", "-cp", "/usr/share/elasticsearch/lib/*",
			"org.elasticsearch.bootstrap.Elasticsearch"}},
	},
}

// boot starts the host's daemons, children of PID 1, in their first seconds.
func boot(g *gen, h *host, t int64, r *rand.Rand) int64 {
	return bootSkewed(g, h, t, r, 0)
}

// bootSkewed is boot where the first event is dated skewYears years off (a
// real-time clock that is wrong at boot until NTP corrects it); 0: none.
func bootSkewed(g *gen, h *host, t int64, r *rand.Rand, skewYears int) int64 {
	defs := append(append([]daemonDef{}, commonDaemons...), roleDaemons[h.role]...)
	for i, d := range defs {
		t += 40 + r.Int64N(400)
		p := g.start(h, t, pid1, h.bin(d.key), d.usr, d.cwd, d.args...)
		if i == 0 && skewYears != 0 {
			e := g.events[len(g.events)-1]
			e.stamp = addYears(e.real, skewYears)
		}
		h.daemons[d.key] = p
	}
	switch h.role {
	case roleWeb:
		// The pool worker that serves PHP requests: a fork of the master,
		// under the web server's user.
		h.daemons["php-fpm-worker"] = h.fork(h.daemons["php-fpm"], uWWW)
	}
	return t
}

// session is an sshd login session start (the privileged child) and the
// user's login shell.
func session(g *gen, h *host, t int64, u user, shell string, r *rand.Rand) (proc, int64) {
	sshd := h.daemons["sshd"]
	priv := g.start(h, t, sshd, h.bin("sshd"), uRoot, "/", "sshd: "+u.name+" [priv]")
	t = step(t, r) + 200
	argv0 := "-bash"
	if shell == "zsh" {
		argv0 = "-zsh"
	}
	home := "/home/" + u.name
	if u == uRoot {
		home = "/root"
	}
	return g.start(h, t, priv, h.bin(shell), u, home, argv0), t
}

// cronJob is a cron job's shell: cron forks a child that runs /bin/sh -c.
func cronJob(g *gen, h *host, t int64, u user, cwd, cmd string) proc {
	child := h.fork(h.daemons["cron"], uRoot)
	return g.start(h, t, child, h.bin("sh"), u, cwd, "/bin/sh", "-c", cmd)
}

func (g *gen) repertoire(h *host) {
	var acts []activity
	add := func(name string, w float64, fn func(g *gen, h *host, t int64, r *rand.Rand) int64) {
		acts = append(acts, activity{name: name, weight: w, run: fn})
	}
	ping := "https://hc-ping.com/" + h.id[:8] + "-" + h.id[8:12] + "-" + h.id[12:16] + "-" + h.id[16:20] + "-" + h.id[20:32]
	add("healthcheck", 6, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
		sh := cronJob(g, h, t, uRoot, "/root", "curl -fsS -m 10 --retry 3 "+ping+" >/dev/null")
		t = step(t, r)
		c := g.start(h, t, sh, h.bin("curl"), uRoot, "/root", "curl", "-fsS", "-m", "10", "--retry", "3", ping)
		return g.reach(h, t, c, svcHCPing, 0, r)
	})
	add("metadata", 2, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
		sh := cronJob(g, h, t, uRoot, "/root", "curl -s http://169.254.169.254/latest/meta-data/instance-id > /run/instance-id")
		t = step(t, r)
		c := g.start(h, t, sh, h.bin("curl"), uRoot, "/root", "curl", "-s", "http://169.254.169.254/latest/meta-data/instance-id")
		t = step(t, r)
		g.connect(h, t, c, metadataIP, 80, "", false, r)
		return t
	})
	add("logrotate", 0.5, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
		g.start(h, t, pid1, h.bin("logrotate"), uRoot, "/", "/usr/sbin/logrotate", "/etc/logrotate.conf")
		return t
	})
	for mirror := range svcDebian.ips {
		add("apt-update", 0.5, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			apt := g.start(h, t, pid1, h.bin("apt-get"), uRoot, "/", "apt-get", "-qq", "update")
			t = step(t, r)
			m := g.start(h, t, apt, h.bin("apt-http"), uApt, "/", "/usr/lib/apt/methods/http")
			t = g.reach(h, t, m, svcDebian, mirror, r)
			t = g.reach(h, t, m, svcSecurity, 0, r)
			if h.role == roleDB {
				t = g.reach(h, t, m, svcPgApt, 0, r)
			}
			return t
		})
	}
	for server := range svcNTP.ips {
		add("ntp", 2, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			return g.reach(h, t, h.daemons["timesyncd"], svcNTP, server, r)
		})
	}
	add("syslog-forward", 0.5, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
		return g.reach(h, t, h.daemons["rsyslogd"], svcSyslog, 0, r)
	})
	unit := map[role]string{roleWeb: "nginx", roleDB: "postgresql", roleWorker: "celery", roleBastion: "ssh", roleCI: "actions.runner", roleSearch: "elasticsearch"}[h.role]
	add("admin-login", 1.5, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
		shell, t := session(g, h, t, uDeploy, "bash", r)
		t = step(t, r) + 2000
		sudo := g.startAs(h, t, shell, h.bin("sudo"), uDeploy, uRoot, "/home/deploy", "sudo", "systemctl", "status", unit)
		t = step(t, r)
		g.start(h, t, sudo, h.bin("systemctl"), uRoot, "/home/deploy", "systemctl", "status", unit)
		t = step(t, r) + 5000
		g.start(h, t, shell, h.bin("journalctl"), uDeploy, "/home/deploy", "journalctl", "-u", unit, "-n", "50", "--no-pager")
		return t
	})
	add("user-manager", 0.5, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
		g.start(h, t, pid1, h.bin("systemd"), uDeploy, "/", "/usr/lib/systemd/systemd", "--user")
		return t
	})

	switch h.role {
	case roleWeb:
		worker := func() proc { return h.daemons["php-fpm-worker"] }
		add("stripe", 4, func(g *gen, h *host, t int64, r *rand.Rand) int64 { return g.reach(h, t, worker(), svcStripe, 0, r) })
		add("sentry", 2, func(g *gen, h *host, t int64, r *rand.Rand) int64 { return g.reach(h, t, worker(), svcSentry, 0, r) })
		add("database", 3, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			g.connect(h, t, worker(), h.dbIP, 5432, "", false, r)
			return t
		})
		add("php-mail", 1.5, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			sh := g.start(h, t, worker(), h.bin("sh"), uWWW, "/var/www/html", "sh", "-c", "/usr/sbin/sendmail -t -i")
			t = step(t, r)
			g.start(h, t, sh, h.bin("sendmail"), uWWW, "/var/www/html", "/usr/sbin/sendmail", "-t", "-i")
			return t
		})
		add("php-thumbnail", 1.5, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			n := 10000 + r.IntN(90000)
			in := fmt.Sprintf("/var/www/html/uploads/%d.jpg", n)
			out := fmt.Sprintf("/var/www/html/cache/%d-1200.jpg", n)
			sh := g.start(h, t, worker(), h.bin("sh"), uWWW, "/var/www/html", "sh", "-c", "convert "+in+" -resize 1200x1200 "+out)
			t = step(t, r)
			g.start(h, t, sh, h.bin("convert"), uWWW, "/var/www/html", "convert", in, "-resize", "1200x1200", out)
			return t
		})
	case roleDB:
		if h.primary != "" {
			add("replication", 1, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
				g.connect(h, t, h.daemons["postgres"], h.primary, 5432, "", false, r)
				return t
			})
		}
	case roleWorker:
		celery := func() proc { return h.daemons["python3"] }
		for bucket := range svcS3.ips {
			add("s3", 3, func(g *gen, h *host, t int64, r *rand.Rand) int64 { return g.reach(h, t, celery(), svcS3, bucket, r) })
		}
		add("sendgrid", 2, func(g *gen, h *host, t int64, r *rand.Rand) int64 { return g.reach(h, t, celery(), svcSendgrid, 0, r) })
		add("sentry", 1, func(g *gen, h *host, t int64, r *rand.Rand) int64 { return g.reach(h, t, celery(), svcSentry, 0, r) })
		add("database", 3, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			g.connect(h, t, celery(), h.dbIP, 5432, "", false, r)
			return t
		})
		add("report", 1, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			sh := cronJob(g, h, t, uApp, "/opt/app", "cd /opt/app && /opt/app/venv/bin/python3 scripts/nightly_report.py")
			t = step(t, r)
			py := g.start(h, t, sh, h.bin("python3"), uApp, "/opt/app", "/opt/app/venv/bin/python3", "scripts/nightly_report.py")
			return g.reach(h, t, py, svcS3, 0, r)
		})
		add("pip", 0.3, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			sh := cronJob(g, h, t, uApp, "/opt/app", "/opt/app/venv/bin/pip install -q -r /opt/app/requirements.txt")
			t = step(t, r)
			py := g.start(h, t, sh, h.bin("python3"), uApp, "/opt/app", "/opt/app/venv/bin/python3", "/opt/app/venv/bin/pip", "install", "-q", "-r", "/opt/app/requirements.txt")
			t = g.reach(h, t, py, svcPypi, 0, r)
			return g.reach(h, t, py, svcPyFiles, 0, r)
		})
	case roleBastion:
		for _, u := range []user{uAlice, uBob} {
			add("login", 1.5, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
				_, t = session(g, h, t, u, "zsh", r)
				return t
			})
		}
		for k, p := range h.peers {
			u := []user{uAlice, uBob}[k%2]
			add("ssh-peer", 0.7, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
				shell, t := session(g, h, t, u, "zsh", r)
				t = step(t, r) + 3000
				s := g.start(h, t, shell, h.bin("ssh"), u, "/home/"+u.name, "ssh", "deploy@"+p.name)
				t = step(t, r)
				g.connect(h, t, s, p.ip, 22, "", false, r)
				return t
			})
		}
		add("ssh-github", 0.5, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			shell, t := session(g, h, t, uAlice, "zsh", r)
			t = step(t, r) + 3000
			s := g.start(h, t, shell, h.bin("ssh"), uAlice, "/home/alice", "ssh", "-T", "git@github.com")
			gh := svcGitHub
			gh.port = 22
			return g.reach(h, t, s, gh, 0, r)
		})
	case roleCI:
		add("runner-poll", 5, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			return g.reach(h, t, h.daemons["runner-listener"], svcGitHubAPI, 0, r)
		})
		for mirror := range svcGitHub.ips {
			add("git-fetch", 2, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
				sh, t := ciJob(g, h, t, r)
				gitp := g.start(h, t, sh, h.bin("git"), uRunner, ciWorkdir, "git", "fetch", "--depth=1", "origin")
				t = step(t, r)
				rh := g.start(h, t, gitp, h.bin("git-remote-https"), uRunner, ciWorkdir, "/usr/lib/git-core/git-remote-https", "origin", "https://github.com/cairnsec/app.git")
				return g.reach(h, t, rh, svcGitHub, mirror, r)
			})
		}
		add("go-build", 1.5, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			sh, t := ciJob(g, h, t, r)
			goP := g.start(h, t, sh, h.bin("go"), uRunner, ciWorkdir, "go", "build", "./...")
			t = g.reach(h, t, goP, svcGoProxy, 0, r)
			return g.reach(h, t, goP, svcGoSum, 0, r)
		})
		add("docker-pull", 1, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			sh, t := ciJob(g, h, t, r)
			g.start(h, t, sh, h.bin("docker"), uRunner, ciWorkdir, "docker", "pull", "debian:bookworm-slim")
			t = g.reach(h, t, h.daemons["dockerd"], svcDockAuth, 0, r)
			return g.reach(h, t, h.daemons["dockerd"], svcRegistry, 0, r)
		})
		if h.ciFresh {
			add("go-test", 6, ciGoTest)
			add("go-run", 3, ciGoRun)
		}
	case roleSearch:
		add("geoip", 1, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			return g.reach(h, t, h.daemons["java"], svcGeoIP, 0, r)
		})
		add("cluster", 2, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
			peer := g.hosts[h.idx-h.ordinal+(h.ordinal+1)%3]
			g.connect(h, t, h.daemons["java"], peer.ip, 9300, "", false, r)
			return t
		})
	}
	h.repert = acts
	h.cdf = make([]float64, len(acts))
	sum := 0.0
	for i, a := range acts {
		sum += a.weight
		h.cdf[i] = sum
	}
}

// dbBackup is the database hosts' nightly dump, archived and pushed to the
// off-site backup server with rsync over ssh: the ordinary activity that
// makes the backup server, tar, rsync and ssh known.
func dbBackup(g *gen, h *host, t int64, r *rand.Rand) int64 {
	sh := cronJob(g, h, t, uRoot, "/root", "/usr/local/sbin/pg-backup")
	t = step(t, r)
	script := g.start(h, t, sh, h.bin("sh"), uRoot, "/root", "/bin/sh", "/usr/local/sbin/pg-backup")
	t = step(t, r)
	g.start(h, t, script, h.bin("pg_dump"), uRoot, "/root", "pg_dump", "-Fc", "-U", "postgres", "-f", "/var/backups/pg/appdb.dump", "appdb")
	t += 20_000 + r.Int64N(40_000)
	return backupPush(g, h, t, r, script, "/var/backups/pg/appdb.tar.gz", []string{"-C", "/var/backups/pg", "appdb.dump"}, h.name+"/")
}

// backupPush archives and sends an archive to the backup server.
func backupPush(g *gen, h *host, t int64, r *rand.Rand, parent proc, archive string, what []string, dest string) int64 {
	tar := g.start(h, t, parent, h.bin("tar"), uRoot, "/root", append([]string{"tar", "czf", archive}, what...)...)
	t = step(t, r)
	g.start(h, t, tar, h.bin("gzip"), uRoot, "/root", "gzip")
	t += 5_000 + r.Int64N(30_000)
	target := "backup@" + svcBackup.domain + ":" + dest
	rs := g.start(h, t, parent, h.bin("rsync"), uRoot, "/root", "rsync", "-az", archive, target)
	t = step(t, r)
	s := g.start(h, t, rs, h.bin("ssh"), uRoot, "/root", "ssh", "-l", "backup", svcBackup.domain, "rsync", "--server", "-logDtprze.iLsfxCIvu", ".", dest)
	return g.reach(h, t, s, svcBackup, 0, r)
}

const ciWorkdir = "/home/runner/work/app/app"

// ciJob is one workflow step: the runner's worker and the step's shell.
func ciJob(g *gen, h *host, t int64, r *rand.Rand) (proc, int64) {
	w := g.start(h, t, h.daemons["runner-listener"], h.bin("runner-worker"), uRunner, "/opt/actions-runner",
		"/opt/actions-runner/bin/Runner.Worker", "spawnclient", fmt.Sprint(100+r.IntN(900)), fmt.Sprint(100+r.IntN(900)))
	t = step(t, r) + 500
	sh := g.start(h, t, w, h.bin("bash"), uRunner, ciWorkdir, "/usr/bin/bash", "-e", fmt.Sprintf("/home/runner/work/_temp/%s.sh", hashOf(fmt.Sprint(h.name, t))[:36]))
	return sh, step(t, r)
}

// ciGoTest is `go test` on a CI runner: every run links fresh test binaries
// under /tmp/go-build…, each with a hash and path never seen before, and
// some of the tests call a known external API.
func ciGoTest(g *gen, h *host, t int64, r *rand.Rand) int64 {
	g.tag = "ci-build"
	sh, t := ciJob(g, h, t, r)
	goP := g.start(h, t, sh, h.bin("go"), uRunner, ciWorkdir, "go", "test", "-count=1", "./...")
	t = g.reach(h, t, goP, svcGoProxy, 0, r)
	build := fmt.Sprintf("/tmp/go-build%d", 1_000_000_000+r.IntN(3_000_000_000))
	for i, pkg := range []string{"client", "store", "api"} {
		t += 4_000 + r.Int64N(20_000)
		exe := fmt.Sprintf("%s/b%03d/%s.test", build, 1+i, pkg)
		b := &binary{exe: exe, version: "ci", hash: hashOf("ci build " + exe)}
		test := g.start(h, t, goP, b, uRunner, ciWorkdir+"/"+pkg, exe, "-test.paniconexit0", "-test.timeout=10m0s", "-test.count=1")
		if pkg == "client" {
			// The client package's integration tests call the GitHub API.
			t = g.reach(h, t, test, svcGitHubAPI, 0, r)
		}
	}
	return t
}

// ciGoRun is `go run` of a code generator: a fresh binary under
// /tmp/go-build…/b001/exe/.
func ciGoRun(g *gen, h *host, t int64, r *rand.Rand) int64 {
	g.tag = "ci-build"
	sh, t := ciJob(g, h, t, r)
	goP := g.start(h, t, sh, h.bin("go"), uRunner, ciWorkdir, "go", "run", "./cmd/gen")
	t += 3_000 + r.Int64N(10_000)
	exe := fmt.Sprintf("/tmp/go-build%d/b001/exe/gen", 1_000_000_000+r.IntN(3_000_000_000))
	b := &binary{exe: exe, version: "ci", hash: hashOf("ci build " + exe)}
	g.start(h, t, goP, b, uRunner, ciWorkdir, exe, "-out", "internal/gen/zz_generated.go")
	return t
}
