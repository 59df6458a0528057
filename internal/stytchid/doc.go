// Package stytchid packs canonical Stytch user ids ("user-test-<uuid>", "user-live-<uuid>", see
// stytch-api.md §10) into 17 bytes and back, one-to-one: only the lower-case canonical UUID form
// packs, so unpacking gives back exactly the text that was packed. Packed ids compare in the same
// order as their text, so sorting packed ids sorts the ids.
package stytchid
