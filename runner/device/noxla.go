//go:build !(cgo && linux && amd64)

package device

// xlaLinked reports whether the XLA backend is in this build: not without
// cgo (or off linux/amd64).
const xlaLinked = false
