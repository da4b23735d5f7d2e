package cairnsearchexporter

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/cairnsec/cairn/exporter/cairnsearchexporter/internal/templates"
)

func policyOf(cfg *Config) templates.Policy {
	return templates.Policy{
		Name:              cfg.Lifecycle.PolicyName,
		RolloverMaxAge:    cfg.Lifecycle.RolloverMaxAge,
		RolloverMaxSize:   cfg.Lifecycle.RolloverMaxSize,
		DeleteAfter:       cfg.Lifecycle.DeleteAfter,
		AlertsDeleteAfter: cfg.Lifecycle.AlertsDeleteAfter,
	}
}

// minElasticsearch is the oldest Elasticsearch Cairn's templates install
// on: ignore_missing_component_templates (which lets the @custom hooks be
// absent) came with 8.7 (elastic/elasticsearch#92436); index.mode, with
// 8.5. Older versions answer 400 "unknown field" to the index templates.
const minElasticsearch = "8.7"

// olderThan reports whether version ("8.6.2") is below min ("8.7"); an
// unknown version (flavour configured, no GET /) is not.
func olderThan(version, min string) bool {
	if version == "" {
		return false
	}
	have, want := strings.Split(version, "."), strings.Split(min, ".")
	for i := range want {
		w, _ := strconv.Atoi(want[i])
		h := 0
		if i < len(have) {
			h, _ = strconv.Atoi(strings.TrimFunc(have[i], func(r rune) bool { return r < '0' || r > '9' }))
		}
		if h != w {
			return h < w
		}
	}
	return false
}

func flavourOf(s server) templates.Flavour {
	if s.flavour == FlavourOpenSearch {
		return templates.OpenSearch
	}
	return templates.Elasticsearch
}

// bootstrap installs the component templates, the lifecycle policies and
// the index templates. Templates are Cairn's own and are written every
// time (PUT replaces them, so a newer Cairn updates them); a policy is
// created only when missing, so that retention tuned in Kibana or
// Dashboards stays, and so are the empty @custom hooks of OpenSearch,
// which belong to the user. It stops at the first failure, with one error
// that names the missing privilege when the answer is 403.
func bootstrap(ctx context.Context, c searchClient, srv server, p templates.Policy) error {
	if srv.flavour != FlavourOpenSearch && olderThan(srv.version, minElasticsearch) {
		return fmt.Errorf("bootstrap: Cairn's index templates need Elasticsearch %s or later (they use ignore_missing_component_templates for the @custom hooks, and index.mode); %s would refuse them. Upgrade, or set bootstrap: false and install templates of your own", minElasticsearch, srv)
	}
	for _, r := range templates.Bootstrap(flavourOf(srv), p) {
		if r.CreateOnly {
			res, err := c.do(ctx, "GET", r.Path, nil)
			if err != nil {
				return fmt.Errorf("bootstrap: checking the %s %q: %w", r.Kind, r.Name, err)
			}
			if res.status == 200 {
				continue
			}
			if res.status != 404 {
				return bootstrapError(srv, r, "GET", res)
			}
		}
		path := r.Path
		if r.CreateOnly && r.Kind == "component template" {
			// Never replace a hook a user (or another collector) created
			// between the GET and this PUT.
			path += "?create=true"
		}
		res, err := c.do(ctx, "PUT", path, r.Body)
		if err != nil {
			return fmt.Errorf("bootstrap: installing the %s %q: %w", r.Kind, r.Name, err)
		}
		switch {
		case res.status == 200 || res.status == 201:
		case res.status == 409 && r.CreateOnly:
			// A policy created meanwhile by another collector: keep it.
		case res.status == 400 && r.CreateOnly && strings.Contains(errorSummary(res.body), "already exists"):
			// The same for a hook (?create=true answers 400).
		default:
			return bootstrapError(srv, r, "PUT", res)
		}
	}
	return nil
}

// privilege names what the credentials need for a bootstrap step.
func privilege(srv server, r templates.Request, method string) string {
	if srv.flavour == FlavourOpenSearch {
		switch r.Kind {
		case "component template":
			// The default action group cluster_manage_index_templates
			// covers index templates only (indices:admin/template/*,
			// indices:admin/index_template/*).
			if method == "GET" {
				return "the cluster permission cluster:admin/component_template/get (not in the action group cluster_manage_index_templates: grant cluster:admin/component_template/*)"
			}
			return "the cluster permission cluster:admin/component_template/put (not in the action group cluster_manage_index_templates: grant cluster:admin/component_template/*)"
		case "index template":
			return "the cluster permission indices:admin/index_template/put (action group cluster_manage_index_templates)"
		default:
			if method == "GET" {
				return "the cluster permission cluster:admin/opendistro/ism/policy/get (role ism_read_access or ism_full_access)"
			}
			return "the cluster permission cluster:admin/opendistro/ism/policy/write (role ism_full_access)"
		}
	}
	switch r.Kind {
	case "component template", "index template":
		return "the cluster privilege manage_index_templates"
	default:
		if method == "GET" {
			return "the cluster privilege read_ilm (or manage_ilm)"
		}
		return "the cluster privilege manage_ilm"
	}
}

func bootstrapError(srv server, r templates.Request, method string, res *response) error {
	what := fmt.Sprintf("%s %s", method, r.Path)
	switch res.status {
	case 401:
		return fmt.Errorf("bootstrap: %s: %s refused the credentials (401): %s", what, srv, errorSummary(res.body))
	case 403:
		return fmt.Errorf("bootstrap: missing privilege: installing the %s %q needs %s; grant it, or install the templates from deploy/ and set bootstrap: false (%s answered 403 to %s: %s)",
			r.Kind, r.Name, privilege(srv, r, method), srv, what, errorSummary(res.body))
	}
	return fmt.Errorf("bootstrap: %s: %s answered %d: %s", what, srv, res.status, errorSummary(res.body))
}
