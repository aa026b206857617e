package api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
)

func TestVersionedPathsAndTheRangeServed(t *testing.T) {
	s := &Server{mux: http.NewServeMux(), version: "test"}
	var seen string
	s.mux.HandleFunc("GET /containers/json", func(w http.ResponseWriter, r *http.Request) { seen = r.URL.Path })
	for path, want := range map[string]int{"/v1.50/containers/json": 200, "/containers/json": 200, "/v1.24/containers/json": 200,
		"/v1.52/containers/json": 400, "/v1.23/containers/json": 400} {
		seen = ""
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want || (want == 200 && seen != "/containers/json") {
			t.Errorf("%s: %d (served %q), want %d", path, rec.Code, seen, want)
		}
		if rec.Header().Get("Api-Version") != APIVersion {
			t.Errorf("%s: no Api-Version header", path)
		}
	}
}

func TestQueryBooleansAndFiltersAsClientsSendThem(t *testing.T) {
	for v, want := range map[string]bool{"1": true, "true": true, "True": true, "0": false, "false": false, "False": false, "": false} {
		if got := boolValue(httptest.NewRequest("GET", "/x?all="+v, nil), "all"); got != want {
			t.Errorf("all=%s: %v", v, got)
		}
	}
	for q, want := range map[string]map[string][]string{
		`{"label":{"a=b":true}}`: {"label": {"a=b"}},
		`{"label":["a=b","c"]}`:  {"label": {"a=b", "c"}},
	} {
		f, err := filtersOf(httptest.NewRequest("GET", "/x?filters="+url.QueryEscape(q), nil))
		if err != nil || !reflect.DeepEqual(map[string][]string(f), want) {
			t.Errorf("%s: %v %v", q, f, err)
		}
	}
	if _, err := filtersOf(httptest.NewRequest("GET", "/x?filters=nope", nil)); statusOf(err) != 400 {
		t.Errorf("bad filters: %v", err)
	}
}

func TestImagePathsHoldSlashes(t *testing.T) {
	name, verb := imagePath(httptest.NewRequest("GET", "/images/localhost:5000/a/b:v1/json", nil))
	if name != "localhost:5000/a/b:v1" || verb != "json" {
		t.Errorf("%q %q", name, verb)
	}
}

func TestBuildStreamSendsEachWriteAndPullStreamEachLine(t *testing.T) {
	rec := httptest.NewRecorder()
	js := newJSONStream(rec, "stream")
	_, _ = js.Write([]byte("\x1b[91moops\n\x1b[0m"))
	_, _ = js.Write([]byte("Step 1/1 : RUN x\n"))
	if got, want := rec.Body.String(), `{"stream":"\u001b[91moops\n\u001b[0m"}`+"\r\n"+`{"stream":"Step 1/1 : RUN x\n"}`+"\r\n"; got != want {
		t.Fatalf("build stream:\n%q\nwant\n%q", got, want)
	}
	rec = httptest.NewRecorder()
	js = newJSONStream(rec, "status")
	_, _ = js.Write([]byte("a\nb"))
	_, _ = js.Write([]byte("c\n"))
	if got, want := rec.Body.String(), `{"status":"a"}`+"\r\n"+`{"status":"bc"}`+"\r\n"; got != want {
		t.Fatalf("pull stream:\n%q\nwant\n%q", got, want)
	}
}
