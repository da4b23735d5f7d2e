package scenario

import (
	"io"
	"strconv"
	"time"
)

// JSON is assembled from pre-encoded fragments: encoding/json would spend
// most of the time budget of the million-event benchmark on reflection.

const (
	eventHead = `","event":{"kind":"event","module":"cairn","dataset":"cairn.host","category":`
	startHead = eventHead + `["process"],"type":["start"]},`
	connHead  = eventHead + `["network"],"type":["connection","start"]},`
	dnsHead   = eventHead + `["network"],"type":["protocol","info"]},`
)

const flushAt = 1 << 20

type encoder struct {
	g   *generator
	w   io.Writer
	buf []byte
	n   int64

	// The date part changes once a day; caching it keeps time formatting
	// out of the hot path.
	day    int64
	prefix []byte
}

func newEncoder(g *generator, w io.Writer) *encoder {
	return &encoder{g: g, w: w, buf: make([]byte, 0, flushAt+4096), day: -1 << 62}
}

func (e *encoder) flush() error {
	if len(e.buf) == 0 {
		return nil
	}
	n, err := e.w.Write(e.buf)
	e.n += int64(n)
	e.buf = e.buf[:0]
	return err
}

func (e *encoder) write(ev *event) error {
	e.buf = e.appendEvent(e.buf, ev)
	if len(e.buf) >= flushAt {
		return e.flush()
	}
	return nil
}

func (e *encoder) appendTS(b []byte, ms int64) []byte {
	day := ms / dayMS
	if ms%dayMS < 0 {
		day--
	}
	if day != e.day {
		e.day = day
		e.prefix = time.UnixMilli(day*dayMS).UTC().AppendFormat(e.prefix[:0], "2006-01-02T")
	}
	b = append(b, e.prefix...)
	r := ms - day*dayMS
	b = append2(b, r/3_600_000)
	b = append(b, ':')
	b = append2(b, r/60_000%60)
	b = append(b, ':')
	b = append2(b, r/1000%60)
	b = append(b, '.', byte('0'+r%1000/100), byte('0'+r%100/10), byte('0'+r%10), 'Z')
	return b
}

func append2(b []byte, v int64) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

func appendInt(b []byte, v int32) []byte {
	return strconv.AppendInt(b, int64(v), 10)
}

func (e *encoder) appendEvent(b []byte, ev *event) []byte {
	g := e.g
	h := g.hosts[ev.host]
	b = append(b, `{"@timestamp":"`...)
	b = e.appendTS(b, ev.ts)
	switch ev.kind {
	case evStart:
		b = append(b, startHead...)
		b = append(b, h.frag...)
		b = append(b, `,"process":{"pid":`...)
		b = appendInt(b, ev.pid)
		b = append(b, ',')
		b = append(b, g.binName[ev.bin]...)
		b = append(b, `,"args":`...)
		b = append(b, g.args[ev.args]...)
		b = append(b, `,"hash":{"sha256":"`...)
		b = append(b, g.binHash[ev.bin]...)
		b = append(b, `"},"parent":{"pid":`...)
		b = appendInt(b, ev.ppid)
		b = append(b, `,"executable":`...)
		b = append(b, g.binExe[ev.pbin]...)
		b = append(b, `}},`...)
		b = append(b, g.userFrag[ev.user]...)
	case evConn:
		b = append(b, connHead...)
		b = append(b, h.frag...)
		if ev.udp {
			b = append(b, `,"network":{"transport":"udp","direction":"egress"},"source":{"ip":`...)
		} else {
			b = append(b, `,"network":{"transport":"tcp","direction":"egress"},"source":{"ip":`...)
		}
		b = append(b, g.addrs[h.addr]...)
		b = append(b, `,"port":`...)
		b = appendInt(b, int32(ev.sport))
		b = append(b, `},"destination":{"ip":`...)
		b = append(b, g.addrs[ev.dst]...)
		b = append(b, `,"port":`...)
		b = appendInt(b, int32(ev.port))
		if ev.answer >= 0 {
			b = append(b, `,"domain":`...)
			b = append(b, g.answers[ev.answer].domain...)
		}
		b = append(b, `},"process":{"pid":`...)
		b = appendInt(b, ev.pid)
		b = append(b, ',')
		b = append(b, g.binName[ev.bin]...)
		b = append(b, `},`...)
		b = append(b, g.userFrag[ev.user]...)
	case evDNS:
		a := &g.answers[ev.answer]
		b = append(b, dnsHead...)
		b = append(b, h.frag...)
		b = append(b, `,"network":{"protocol":"dns","transport":"udp"},"source":{"ip":`...)
		b = append(b, g.addrs[h.addr]...)
		b = append(b, `,"port":`...)
		b = appendInt(b, int32(ev.sport))
		b = append(b, `},"destination":{"ip":`...)
		b = append(b, g.addrs[ev.dst]...)
		b = append(b, `,"port":53},"dns":{"type":"answer","question":{"name":`...)
		b = append(b, a.domain...)
		b = append(b, `,"type":"A"},"response_code":"NOERROR","resolved_ip":`...)
		b = append(b, a.resolved...)
		b = append(b, `},"process":{"pid":`...)
		b = appendInt(b, ev.pid)
		b = append(b, ',')
		b = append(b, g.binName[ev.bin]...)
		b = append(b, '}')
	}
	return append(b, '}', '\n')
}
