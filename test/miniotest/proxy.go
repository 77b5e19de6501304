package miniotest

import (
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Request is one request the [Proxy] saw, headers as sent.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
}

// Operation names the S3 operation of a request from its method and query,
// for the operations the uploader makes: PutObject, CreateMultipartUpload,
// UploadPart, CompleteMultipartUpload, AbortMultipartUpload, GetObject,
// ListObjectsV2, DeleteObject, ListBuckets, GetBucketPolicy, GetBucketAcl,
// PutObjectAcl; "" for any other.
func (r Request) Operation() string {
	q := r.Query
	has := func(k string) bool { _, ok := q[k]; return ok }
	bucketOnly := len(splitPath(r.Path)) == 1
	switch {
	case r.Method == http.MethodGet && r.Path == "/":
		return "ListBuckets"
	case r.Method == http.MethodPost && has("uploads"):
		return "CreateMultipartUpload"
	case r.Method == http.MethodPut && has("partNumber") && has("uploadId"):
		return "UploadPart"
	case r.Method == http.MethodPost && has("uploadId"):
		return "CompleteMultipartUpload"
	case r.Method == http.MethodDelete && has("uploadId"):
		return "AbortMultipartUpload"
	case r.Method == http.MethodPut && has("acl"):
		return "PutObjectAcl"
	case r.Method == http.MethodGet && has("acl") && bucketOnly:
		return "GetBucketAcl"
	case r.Method == http.MethodGet && has("policy") && bucketOnly:
		return "GetBucketPolicy"
	case r.Method == http.MethodGet && bucketOnly && q.Get("list-type") == "2":
		return "ListObjectsV2"
	case r.Method == http.MethodPut && !bucketOnly:
		return "PutObject"
	case r.Method == http.MethodGet && !bucketOnly:
		return "GetObject"
	case r.Method == http.MethodDelete && !bucketOnly:
		return "DeleteObject"
	}
	return ""
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.SplitN(p, "/", 2)
}

// Refusal is an S3 error the [Proxy] answers with instead of forwarding.
type Refusal struct {
	Status  int    // 403, ...
	Code    string // AccessDenied, ...
	Message string
}

// ProxyOptions change a [Proxy]; the zero value forwards everything.
type ProxyOptions struct {
	// Refuse, when set, is asked about every request before it is
	// forwarded; a non-nil Refusal is answered as S3 would, as an XML
	// error, and the request goes no further. Tests use it for what AWS
	// checks and MinIO does not (the expected bucket owner, bucket policy
	// denies for an IAM user).
	Refuse func(Request) *Refusal
}

// Proxy is a reverse proxy on loopback in front of a [Server] that records
// every request's method, path, query and headers, so that a test can see
// what went over the wire. The Host header is passed through, so SigV4
// signatures made for the proxy's address hold at MinIO.
type Proxy struct {
	Endpoint string // http://127.0.0.1:port

	mu   sync.Mutex // guards reqs
	reqs []Request
}

// Proxy starts a recording proxy in front of s, stopped at cleanup.
func (s *Server) Proxy(t testing.TB, opts ProxyOptions) *Proxy {
	t.Helper()
	target, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone()}
		p.mu.Lock()
		p.reqs = append(p.reqs, req)
		p.mu.Unlock()
		if opts.Refuse != nil {
			if ref := opts.Refuse(req); ref != nil {
				// Read what the client sends, as S3 does before it answers.
				_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
				writeError(w, r, *ref)
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	p.Endpoint = "http://" + ln.Addr().String()
	return p
}

// Requests returns the requests seen so far, in order.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.reqs...)
}

// writeError answers as S3 does: the XML error document, with the status.
func writeError(w http.ResponseWriter, r *http.Request, ref Refusal) {
	body, _ := xml.Marshal(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		Resource  string
		RequestID string `xml:"RequestId"`
	}{Code: ref.Code, Message: ref.Message, Resource: r.URL.Path, RequestID: "proxy"})
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", "proxy")
	w.WriteHeader(ref.Status)
	_, _ = w.Write(append([]byte(xml.Header), body...))
}
