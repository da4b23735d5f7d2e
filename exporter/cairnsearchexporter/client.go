package cairnsearchexporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"go.opentelemetry.io/collector/config/configcompression"
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

// hasBody reports whether a request of this method carries body: never a
// GET or HEAD (some proxies and servers refuse one, and a compressed empty
// body would still be bytes on the wire), nor an empty one.
func hasBody(method string, body []byte) bool {
	return len(body) > 0 && method != http.MethodGet && method != http.MethodHead
}

// newRequest builds a request; a body is compressed by comp (nil: sent as
// is). release, once the answer is read, recycles the compressed body.
func newRequest(ctx context.Context, method, rawURL string, body []byte, comp *compressor) (req *http.Request, release func(), err error) {
	release = func() {}
	var r io.Reader
	encoding := ""
	if hasBody(method, body) {
		r = bytes.NewReader(body)
		if comp != nil {
			buf, err := comp.compress(body)
			if err != nil {
				return nil, release, err
			}
			r, encoding = bytes.NewReader(buf.Bytes()), comp.encoding
			release = func() { comp.put(buf) }
		}
	}
	req, err = http.NewRequestWithContext(ctx, method, rawURL, r)
	if err != nil {
		return nil, release, err
	}
	if r != nil {
		req.Header.Set("Content-Type", contentType(rawURL))
		if encoding != "" {
			req.Header.Set("Content-Encoding", encoding)
		}
	}
	req.Header.Set("Accept", "application/json")
	return req, release, nil
}

// compressor compresses request bodies. The collector's own compression
// (confighttp) is not used: it compresses every request, a GET's empty body
// included.
type compressor struct {
	encoding string // Content-Encoding
	writers  sync.Pool
	bufs     sync.Pool
}

// newCompressor returns the compressor of the compression option (gzip or
// deflate, at level; nil for none).
func newCompressor(typ configcompression.Type, level configcompression.Level) *compressor {
	lvl := int(level)
	if lvl == 0 {
		lvl = gzip.DefaultCompression
	}
	c := &compressor{}
	switch typ {
	case configcompression.TypeGzip:
		c.encoding = "gzip"
		c.writers.New = func() any { w, _ := gzip.NewWriterLevel(nil, lvl); return w }
	case configcompression.TypeDeflate:
		// HTTP's deflate is the zlib format.
		c.encoding = "deflate"
		c.writers.New = func() any { w, _ := zlib.NewWriterLevel(nil, lvl); return w }
	default:
		return nil
	}
	c.bufs.New = func() any { return new(bytes.Buffer) }
	return c
}

type resetWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

func (c *compressor) compress(body []byte) (*bytes.Buffer, error) {
	buf := c.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	w := c.writers.Get().(resetWriter)
	defer c.writers.Put(w)
	w.Reset(buf)
	if _, err := w.Write(body); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf, nil
}

func (c *compressor) put(buf *bytes.Buffer) { c.bufs.Put(buf) }

// plainClient talks HTTP to base (OpenSearch, and GET / before the flavour
// is known).
type plainClient struct {
	base    string
	client  *http.Client
	timeout time.Duration
	comp    *compressor
}

func (c *plainClient) do(ctx context.Context, method, path string, body []byte) (*response, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, release, err := newRequest(ctx, method, c.base+path, body, c.comp)
	if err != nil {
		return nil, err
	}
	res, err := c.client.Do(req)
	if err != nil {
		// The transport may still read the body: it is not recycled.
		return nil, err
	}
	defer release()
	return readResponse(res)
}

// esClient sends through the official Elasticsearch client.
type esClient struct {
	es      *elasticsearch.Client
	timeout time.Duration
	comp    *compressor
}

func newESClient(endpoint string, rt http.RoundTripper, timeout time.Duration, comp *compressor) (*esClient, error) {
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: []string{endpoint},
		Transport: rt,
		// Retries are the exporter's: per item, with backoff.
		DisableRetry: true,
		// Bodies arrive compressed by the exporter (or not at all).
		CompressRequestBody: false,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the Elasticsearch client: %w", err)
	}
	return &esClient{es: es, timeout: timeout, comp: comp}, nil
}

// do sends one request. The Elasticsearch client hands it straight to the
// transport, which never follows a redirect: a 3xx comes back as an answer
// (and is retried like any unexpected status).
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
	req, release, err := newRequest(ctx, method, u.String(), body, c.comp)
	if err != nil {
		return nil, err
	}
	res, err := c.es.Perform(req)
	if err != nil {
		return nil, err
	}
	defer release()
	return readResponse(res)
}

// errCrossHostRedirect refuses a redirect to another host: the
// credentials (built-in, headers, or an auth extension) are added to every
// request by the transport, so following it would hand them to that host.
var errCrossHostRedirect = errors.New("refusing to follow a redirect to another host (the credentials would go with it); point endpoint at the cluster itself")

// checkRedirect lets the plain client follow redirects within the
// endpoint's host (same host and port, never from https to http), and
// nothing else.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	first := via[0].URL
	if !strings.EqualFold(req.URL.Host, first.Host) {
		return fmt.Errorf("%w: %s redirects to %s://%s", errCrossHostRedirect, first.Host, req.URL.Scheme, req.URL.Host)
	}
	if first.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing to follow a redirect from https to %s://%s (the credentials would travel in clear)", req.URL.Scheme, req.URL.Host)
	}
	return nil
}

// plainCredentials names the credentials configured for a plain http://
// endpoint, where they travel in clear; empty when there are none or the
// endpoint is https.
func plainCredentials(cfg *Config) []string {
	if !strings.HasPrefix(strings.ToLower(cfg.Endpoint), "http://") {
		return nil
	}
	var out []string
	if cfg.User != "" || cfg.Password != "" {
		out = append(out, "user/password")
	}
	if cfg.APIKey != "" {
		out = append(out, "api_key")
	}
	if cfg.BearerToken != "" {
		out = append(out, "bearer_token")
	}
	for _, h := range cfg.Headers {
		if strings.EqualFold(h.Name, "Authorization") || strings.EqualFold(h.Name, "Proxy-Authorization") {
			out = append(out, "headers::"+h.Name)
		}
	}
	if cfg.Auth.HasValue() {
		out = append(out, "auth::authenticator")
	}
	return out
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
