package controlapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// TestPutManyOverHTTP: POST /v1/kv writes every put, in order, each its own
// event with its own sequence number, readable once the answer came.
func TestPutManyOverHTTP(t *testing.T) {
	node := startNode(t)
	_, _, c := serve(t, node, Config{})
	items := make([]replica.KV, 20)
	for i := range items {
		items[i] = replica.KV{Key: fmt.Sprintf("batch/%02d", i), Value: []byte(fmt.Sprintf("v%d", i))}
	}
	items[7].Value = []byte{0xff, 0x00, 0x01} // binary: sent base64
	res, err := c.PutMany(ctx(t), items)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(items) {
		t.Fatalf("%d results for %d puts", len(res), len(items))
	}
	for i, r := range res {
		if r.Key != items[i].Key || r.Op != "put" || (i > 0 && r.Seq != res[i-1].Seq+1) {
			t.Fatalf("result %d: %+v", i, r)
		}
		e, err := c.Get(ctx(t), items[i].Key)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := e.Bytes(); err != nil || string(v) != string(items[i].Value) {
			t.Fatalf("%s: %q, %v; want %q", items[i].Key, v, err, items[i].Value)
		}
	}
}

// TestPutManyRefusesBadBatches: an empty batch, one over MaxBatchPuts and
// one with a bad put are refused whole, and nothing of them is written.
func TestPutManyRefusesBadBatches(t *testing.T) {
	node := startNode(t)
	_, ts, c := serve(t, node, Config{})
	over := make([]string, MaxBatchPuts+1)
	for i := range over {
		over[i] = fmt.Sprintf(`{"key":"o%d","value":"v"}`, i)
	}
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"empty", `{"puts":[]}`, http.StatusBadRequest, "puts: empty"},
		{"over the limit", `{"puts":[` + strings.Join(over, ",") + `]}`, http.StatusRequestEntityTooLarge, "over the limit"},
		{"empty key", `{"puts":[{"key":"ok","value":"v"},{"key":"","value":"v"}]}`, http.StatusBadRequest, "puts[1].key: empty"},
		{"empty value", `{"puts":[{"key":"ok","value":"v"},{"key":"k","value":""}]}`, http.StatusBadRequest, "puts[1].value: empty"},
		{"bad base64", `{"puts":[{"key":"ok","value":"v"},{"key":"k","value":"!!","encoding":"base64"}]}`, http.StatusBadRequest, "puts[1].value"},
		{"unknown field", `{"puts":[{"key":"ok","value":"v","ttl":3}]}`, http.StatusBadRequest, "ttl"},
	} {
		status, body := request(t, "POST", ts.URL+"/v1/kv", tc.body, "Content-Type", "application/json")
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s; want %d with %q", tc.name, status, body, tc.status, tc.want)
		}
	}
	for _, key := range []string{"ok", "o0"} {
		if _, err := c.Get(ctx(t), key); !IsStatus(err, http.StatusNotFound) {
			t.Fatalf("%s written by a refused batch: %v", key, err)
		}
	}
}
