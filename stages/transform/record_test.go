package transform

import (
	"testing"
)

// TestRecordsRoundTrip encodes payload and key records of every shape and decodes them back:
// canonical and other user ids, an external id equal to the user id or not, extreme positions,
// rows and times, empty and Unicode strings. Payload records leave the metadata out (emit reads it
// from the users file).
func TestRecordsRoundTrip(t *testing.T) {
	const canonical = "user-test-0d9e9a5c-1234-4abc-9def-0123456789ab"
	payloads := []payload{
		{userID: canonical, email: "a@x.io", extID: canonical, extSrc: extFromUserID, created: 1, position: 0, verified: true},
		{userID: "user-live-ffffffff-ffff-ffff-ffff-ffffffffffff", email: "b@x.io", extID: "crm.42", extSrc: extFromExternalID,
			name: "Zoë Müller", phone: "+4930123456", trusted: `{"org_ids":["acme"]}`, untrusted: `{"t":"ü"}`,
			created: noCreatedAt, position: 1 << 40, row: 1<<40 + 3, pending: true, warnings: warnPhoneNotE164 | warnUntrustedDropped},
		{userID: "u1", email: "c@x.io", extID: "u1", extSrc: extFromMetadata, created: -5, position: -1, row: 127},
		{userID: "USER-TEST-0D9E9A5C-1234-4ABC-9DEF-0123456789AB", email: "", extID: "x", created: 0, position: 7},
		{userID: "", email: "ü@ü.io", extID: "", created: 3, position: 3},
	}
	for _, pl := range payloads {
		h := newRecordHead(&pl)
		rec := appendRecord([]byte("junk"), &pl, &h)[4:]
		if len(recordBytes(rec)) != len(rec) {
			t.Fatalf("%s: record length prefix %d, record %d bytes", pl.userID, len(recordBytes(rec)), len(rec))
		}
		_, k := uvarintPrefix(rec)
		var got payload
		var scratch []byte
		decodeRecordBody(rec[k:], &got, &scratch)
		want := pl
		want.trusted, want.untrusted = "", ""
		if got != want {
			t.Errorf("payload record:\n got %+v\nwant %+v", got, want)
		}

		key := appendKeyRecord(nil, &pl, &h)
		if len(recordBytes(key)) != len(key) {
			t.Fatalf("%s: key record length prefix %d, record %d bytes", pl.userID, len(recordBytes(key)), len(key))
		}
		var kr keyRecord
		decodeKeyRecord(key, &kr, &scratch)
		wantKey := keyRecord{created: pl.created, position: pl.position, verified: pl.verified, extSrc: pl.extSrc,
			userID: pl.userID, email: pl.email, extID: pl.extID}
		if kr != wantKey {
			t.Errorf("key record:\n got %+v\nwant %+v", kr, wantKey)
		}
	}
	// A canonical user id is stored packed: the record is shorter than the id's text.
	pl := payloads[0]
	h := newRecordHead(&pl)
	if n := len(appendKeyRecord(nil, &pl, &h)); n >= len(canonical) {
		t.Errorf("key record of a canonical id is %d bytes, want it packed below %d", n, len(canonical))
	}
}

// uvarintPrefix returns a record's length and the size of its prefix.
func uvarintPrefix(b []byte) (int, int) {
	n := len(recordBytes(b))
	k := 1
	for b[k-1] >= 0x80 {
		k++
	}
	return n - k, k
}
