//go:build cgo && linux && amd64

package device

// The XLA backend (PJRT plugins: CUDA, CPU) needs cgo.
import _ "github.com/gomlx/gomlx/backends/xla"

// xlaLinked reports whether the XLA backend is in this build.
const xlaLinked = true
