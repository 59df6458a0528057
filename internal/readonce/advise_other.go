//go:build !(linux && (amd64 || arm64 || loong64 || riscv64 || ppc64 || ppc64le || mips64 || mips64le))

package readonce

import (
	"errors"
	"os"
)

// errNoAdvice says the platform takes no page cache advice (or this package does not give it
// there).
var errNoAdvice = errors.New("no page cache advice on this platform")

// adviseSequential tells the kernel f is read from start to end once: not here.
func adviseSequential(*os.File) error { return errNoAdvice }

// dropCached drops f's pages from the page cache: not here.
func dropCached(*os.File, int64, int64) error { return errNoAdvice }
