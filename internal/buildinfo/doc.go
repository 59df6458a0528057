// Package buildinfo tells which version of stytch-migrate is running: the version set at link
// time by the Makefile, else the module version, else "dev".
package buildinfo
