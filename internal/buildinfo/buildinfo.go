package buildinfo

import "runtime/debug"

// defaultVersion is reported when neither the linker nor the module build info names a version.
const defaultVersion = "dev"

// version is set at link time:
//
//	go build -ldflags "-X github.com/stytch-migrate/stytch-migrate/internal/buildinfo.version=v1.2.3"
//
// It is the only package-level variable the project keeps, and only the linker writes it.
var version string

// Version returns the tool's version: the one set at link time, else the main module's version
// from the build info (set by "go install module@version"), else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return defaultVersion
}
