package cairnsearchexporter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"go.opentelemetry.io/collector/config/configopaque"
)

// response is a server answer, body read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// searchClient sends one request to the server. Elasticsearch is reached
// through go-elasticsearch (which checks the X-Elastic-Product header),
// OpenSearch and the start-up detection through plain HTTP. Both share the
// collector's HTTP client (TLS, proxy, auth extension, compression).
type searchClient interface {
	do(ctx context.Context, method, path string, body []byte) (*response, error)
}

// maxResponseBytes bounds what is read of an answer; a _bulk answer is about
// 150 bytes per item, so this fits batches far larger than max_request_bytes
// allows.
const maxResponseBytes = 256 << 20

func contentType(path string) string {
	if strings.HasSuffix(path, "/_bulk") || strings.Contains(path, "/_bulk?") {
		return "application/x-ndjson"
	}
	return "application/json"
}

func readResponse(res *http.Response) (*response, error) {
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("reading the answer (status %d): %w", res.StatusCode, err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}, nil
}

func newRequest(ctx context.Context, method, rawURL string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType(rawURL))
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// plainClient talks HTTP to base (OpenSearch, and GET / before the flavour
// is known).
type plainClient struct {
	base    string
	client  *http.Client
	timeout time.Duration
}

func (c *plainClient) do(ctx context.Context, method, path string, body []byte) (*response, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := newRequest(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	res, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	return readResponse(res)
}

// esClient sends through the official Elasticsearch client.
type esClient struct {
	es      *elasticsearch.Client
	timeout time.Duration
}

func newESClient(endpoint string, rt http.RoundTripper, timeout time.Duration) (*esClient, error) {
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: []string{endpoint},
		Transport: rt,
		// Retries are the exporter's: per item, with backoff, through the
		// collector's queue.
		DisableRetry: true,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the Elasticsearch client: %w", err)
	}
	return &esClient{es: es, timeout: timeout}, nil
}

func (c *esClient) do(ctx context.Context, method, path string, body []byte) (*response, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	u, err := url.Parse(path)
	if err != nil {
		return nil, err
	}
	req, err := newRequest(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	res, err := c.es.Perform(req)
	if err != nil {
		return nil, err
	}
	return readResponse(res)
}

// credentials adds the configured Authorization header to every request.
type credentials struct {
	next  http.RoundTripper
	value configopaque.String
}

func (c *credentials) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", string(c.value))
	return c.next.RoundTrip(req)
}

// authorization is the header value of the built-in credentials, if any.
func authorization(cfg *Config) configopaque.String {
	switch {
	case cfg.APIKey != "":
		return "ApiKey " + cfg.APIKey
	case cfg.BearerToken != "":
		return "Bearer " + cfg.BearerToken
	case cfg.User != "":
		req := http.Request{Header: http.Header{}}
		req.SetBasicAuth(cfg.User, string(cfg.Password))
		return configopaque.String(req.Header.Get("Authorization"))
	}
	return ""
}
