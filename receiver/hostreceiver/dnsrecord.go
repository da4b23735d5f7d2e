package hostreceiver

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// putDNS writes ECS dns.* fields of a response.
func putDNS(a pcommon.Map, resp *dnsResponse) {
	a.PutStr("dns.type", "answer")
	a.PutInt("dns.id", int64(resp.id))
	a.PutStr("dns.op_code", "QUERY")
	a.PutStr("dns.response_code", dnsRcodeName(resp.rcode))
	a.PutStr("dns.question.name", resp.qname)
	a.PutStr("dns.question.type", dnsTypeName(resp.qtype))
	a.PutStr("dns.question.class", dnsClassName(resp.qclass))
	if len(resp.answers) == 0 {
		return
	}
	answers := a.PutEmptySlice("dns.answers")
	var ips []string
	for _, an := range resp.answers {
		m := answers.AppendEmpty().SetEmptyMap()
		m.PutStr("name", an.name)
		m.PutStr("type", dnsTypeName(an.typ))
		m.PutStr("class", dnsClassName(an.class))
		m.PutInt("ttl", int64(an.ttl))
		if an.data != "" {
			m.PutStr("data", an.data)
		}
		if an.ip.IsValid() {
			ips = append(ips, an.ip.Unmap().String())
		}
	}
	if len(ips) > 0 {
		putStrs(a, "dns.resolved_ip", ips...)
	}
}
