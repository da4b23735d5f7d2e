package cairnsearchexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// server is what GET / tells about the cluster.
type server struct {
	flavour string
	version string // e.g. "8.15.2"; empty when the flavour was configured
	major   int
}

func (s server) String() string {
	name := "Elasticsearch"
	if s.flavour == FlavourOpenSearch {
		name = "OpenSearch"
	}
	if s.version == "" {
		return name
	}
	return name + " " + s.version
}

// supported reports whether the version is one Cairn is built for:
// Elasticsearch 8.x and 9.x, OpenSearch 2.x and 3.x.
func (s server) supported() bool {
	if s.version == "" {
		return true
	}
	if s.flavour == FlavourOpenSearch {
		return s.major == 2 || s.major == 3
	}
	return s.major == 8 || s.major == 9
}

// detect asks GET / which product and version answers. OpenSearch says
// version.distribution "opensearch"; Elasticsearch has no distribution and
// sends the X-Elastic-Product header.
func detect(ctx context.Context, c searchClient) (server, error) {
	res, err := c.do(ctx, "GET", "/", nil)
	if err != nil {
		return server{}, fmt.Errorf("GET / to detect the server flavour: %w", err)
	}
	if res.status != 200 {
		return server{}, fmt.Errorf("GET / to detect the server flavour answered %d: %s (set flavour to skip detection)", res.status, errorSummary(res.body))
	}
	var root struct {
		Version struct {
			Number       string `json:"number"`
			Distribution string `json:"distribution"`
		} `json:"version"`
		Tagline string `json:"tagline"`
	}
	if err := json.Unmarshal(res.body, &root); err != nil || root.Version.Number == "" {
		return server{}, fmt.Errorf("GET / did not answer like Elasticsearch or OpenSearch (no version.number in %q)", truncate(string(res.body), 200))
	}
	s := server{version: root.Version.Number}
	s.major, _ = strconv.Atoi(strings.SplitN(root.Version.Number, ".", 2)[0])
	switch {
	case strings.EqualFold(root.Version.Distribution, "opensearch"):
		s.flavour = FlavourOpenSearch
	case res.header.Get("X-Elastic-Product") == "Elasticsearch":
		s.flavour = FlavourElasticsearch
	case root.Version.Distribution == "" && s.major >= 8:
		// Elasticsearch 8+ always sends the header; a proxy may strip it,
		// and go-elasticsearch would then refuse every answer.
		return server{}, fmt.Errorf("GET / answered version %s without distribution nor the X-Elastic-Product header; a proxy may strip it (set flavour if this is a real cluster)", s.version)
	default:
		return server{}, fmt.Errorf("GET / answered an unknown distribution %q version %s", root.Version.Distribution, s.version)
	}
	return s, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// errorSummary extracts "type: reason" from an error answer of either
// product ({"error":{"type":..,"reason":..},"status":..}), or a short text.
func errorSummary(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		var obj struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		}
		if json.Unmarshal(e.Error, &obj) == nil && obj.Type != "" {
			return obj.Type + ": " + obj.Reason
		}
		var s string
		if json.Unmarshal(e.Error, &s) == nil {
			return s
		}
	}
	return truncate(strings.TrimSpace(string(body)), 300)
}
