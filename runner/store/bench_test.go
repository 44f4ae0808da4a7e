package store

import (
	"encoding/binary"
	"fmt"
	"testing"

	"hetalign/runner/store/storetest"
)

// BenchmarkPutGet stores a small step (one 1 KiB output) and reads it back
// (Get, which checks the blob, then Output) on every kind of store.
func BenchmarkPutGet(b *testing.B) {
	for _, kind := range storetest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			st, err := Open(storetest.URLs(b)[kind])
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			out := make([]byte, 1024)
			for i := 0; b.Loop(); i++ {
				binary.LittleEndian.PutUint64(out, uint64(i))
				k := key(fmt.Sprint("bench ", i))
				if _, err := st.Put(k, "eval", "bench", map[string][]byte{"out": out}, 0); err != nil {
					b.Fatal(err)
				}
				m, ok := st.Get(k)
				if !ok {
					b.Fatal("step not cached")
				}
				if _, err := st.Output(m, "out"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
