// Package inspect describes a Parquet file for people and scripts: its Arrow schema, key-value
// metadata, rows, row groups and size, then its first rows, as an aligned table or as JSON
// lines. It works on any Parquet file, not only the ones stytch-migrate stages, and reads only
// the footer and the pages the requested rows need.
package inspect
