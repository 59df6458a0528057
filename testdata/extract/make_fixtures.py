#!/usr/bin/env python3
"""Writes the extract fixtures: users.jsonl, users.json (export utility JSON) and users.csv
(export utility CSV, header repeated on every page) from the same users, plus the empty sources.

Metadata objects are given as raw JSON text and kept verbatim (key order, number spelling), so the
tests can check that extract keeps them exactly. Run from this folder: python3 make_fixtures.py
"""
import json

CSV_PAGE = 2  # the export utility repeats the header every 1,000 users; 2 keeps the fixture small


class Raw(str):
    """JSON text inserted as is."""


def big_metadata():
    items = ",".join('{"k":%d,"v":"%s","f":%s}' % (i, "x" * 40, "1.50" if i % 2 else "2e3") for i in range(180))
    return Raw('{"org_ids":["acme"],"blob":[%s],"tail":"end"}' % items)


USERS = [
    {
        "user_id": "user-test-16d9ba61-97a1-4ba4-9720-b03761dc50c6",
        "emails": [
            {"email_id": "email-test-0001", "email": "zoe@acme.example", "verified": True},
            {"email_id": "email-test-0002", "email": "zoe.personal@example.com", "verified": False},
        ],
        "status": "active",
        "phone_numbers": [{"phone_id": "phone-number-test-0001", "phone_number": "+14155550100", "verified": True}],
        "webauthn_registrations": [{"webauthn_registration_id": "webauthn-registration-test-0001", "domain": "acme.example",
                                    "user_agent": "Mozilla/5.0 (X11; Linux x86_64), \"quoted\"", "verified": True,
                                    "authenticator_type": "platform", "name": "Zoë's laptop"}],
        "providers": [{"provider_type": "Google", "provider_subject": "1234567890", "profile_picture_url": "https://example.com/a,b.png",
                       "locale": "fr-CA", "oauth_user_registration_id": "oauth-user-test-0001"}],
        "totps": [{"totp_id": "totp-test-0001", "verified": True}],
        "crypto_wallets": [{"crypto_wallet_id": "crypto-wallet-test-0001", "crypto_wallet_address": "0xAbC", "crypto_wallet_type": "ethereum", "verified": False}],
        "biometric_registrations": [{"biometric_registration_id": "biometric-registration-test-0001", "verified": True}],
        "is_locked": False,
        "roles": ["stytch_user", "admin"],
        "name": {"first_name": "Zoë", "middle_name": "", "last_name": "Ångström"},
        "created_at": "2023-01-15T09:30:00Z",
        "password": {"password_id": "password-test-0001", "requires_reset": False},
        "trusted_metadata": Raw('{"org_ids":["acme","globex"],"z":1,"a":1.0,"n":1e3,"nested":{"b":[true,null]}}'),
        "untrusted_metadata": Raw('{"note":"he said \\"hi\\", then left, café ☕ \\u00e9"}'),
        "external_id": "ext-zoe",
        "lock_created_at": None,
        "lock_expires_at": None,
    },
    {
        "user_id": "user-test-2a2b3c4d-0000-4000-8000-000000000002",
        "emails": [],
        "status": "pending",
        "phone_numbers": [],
        "webauthn_registrations": [],
        "providers": [],
        "totps": [],
        "crypto_wallets": [],
        "biometric_registrations": [],
        "is_locked": False,
        "roles": [],
        "name": None,
        "created_at": "2023-02-01T00:00:00Z",
        "trusted_metadata": None,
        "untrusted_metadata": None,
    },
    {
        "user_id": "user-test-3a2b3c4d-0000-4000-8000-000000000003",
        "emails": [{"email_id": "email-test-0003", "email": "big@globex.example", "verified": True}],
        "status": "active",
        "phone_numbers": [],
        "webauthn_registrations": [],
        "providers": [],
        "totps": [],
        "crypto_wallets": [],
        "biometric_registrations": [],
        "is_locked": False,
        "roles": [],
        "name": {"first_name": "Big", "middle_name": "", "last_name": "Meta"},
        "created_at": "2023-03-01T12:00:00Z",
        "trusted_metadata": big_metadata(),
        "untrusted_metadata": Raw("{}"),
    },
    {
        "user_id": "user-live-4a2b3c4d-0000-4000-8000-000000000004",
        "emails": [{"email_id": "email-live-0004", "email": "locked@acme.example", "verified": True}],
        "status": "active",
        "phone_numbers": [{"phone_id": "phone-number-live-0004", "phone_number": "+442071838750", "verified": False}],
        "webauthn_registrations": [],
        "providers": [],
        "totps": [],
        "crypto_wallets": [],
        "biometric_registrations": [],
        "is_locked": True,
        "roles": ["stytch_user"],
        "name": {"first_name": "Lock", "middle_name": "Q", "last_name": "O\"Brien, Jr."},
        "created_at": "2023-04-01T08:00:00Z",
        "password": {"password_id": "password-live-0004", "requires_reset": True},
        "trusted_metadata": Raw('{"org_ids":"acme"}'),
        "untrusted_metadata": Raw('{"a,b":"c\\"d","emoji":"🎉"}'),
        "lock_created_at": "2024-01-01T00:00:00Z",
        "lock_expires_at": "2024-01-01T01:00:00Z",
    },
    {
        "user_id": "custom-id-5",
        "emails": [{"email_id": "email-test-0005", "email": "山田@例え.jp", "verified": False}],
        "status": "active",
        "phone_numbers": [],
        "webauthn_registrations": [],
        "providers": [{"provider_type": "Microsoft", "provider_subject": "sub,with,commas", "profile_picture_url": "",
                       "locale": "", "oauth_user_registration_id": "oauth-user-test-0005"}],
        "totps": [],
        "crypto_wallets": [],
        "biometric_registrations": [],
        "is_locked": False,
        "roles": [],
        "name": {"first_name": "太郎", "middle_name": "", "last_name": "山田"},
        "created_at": "2024-03-01T10:00:00.123456Z",
        "trusted_metadata": Raw('{"org_ids":["例え"]}'),
        "untrusted_metadata": Raw('{"line":"a\\nb\\tc"}'),
    },
]


def dump(v, indent=None, level=0):
    """Like JSON.stringify(v, null, indent) (indent None: compact), passing Raw through."""
    if isinstance(v, Raw):
        return str(v) if indent is None else pretty_raw(str(v), indent, level)
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = ['"%s":%s%s' % (k, "" if indent is None else " ", dump(x, indent, level + 1)) for k, x in v.items()]
        return wrap("{", "}", items, indent, level)
    if isinstance(v, list):
        if not v:
            return "[]"
        return wrap("[", "]", [dump(x, indent, level + 1) for x in v], indent, level)
    return json.dumps(v, ensure_ascii=False)


def wrap(open_, close, items, indent, level):
    if indent is None:
        return open_ + ",".join(items) + close
    pad = " " * (indent * (level + 1))
    return open_ + "\n" + ",\n".join(pad + i for i in items) + "\n" + " " * (indent * level) + close


def pretty_raw(text, indent, level):
    """Re-indents compact raw JSON text without touching its tokens."""
    out, depth, i, in_str = [], level, 0, False
    while i < len(text):
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            out.append(c)
        elif c in "{[":
            if text[i + 1] in "}]":
                out.append(c + text[i + 1])
                i += 1
            else:
                depth += 1
                out.append(c + "\n" + " " * (indent * depth))
        elif c in "}]":
            depth -= 1
            out.append("\n" + " " * (indent * depth) + c)
        elif c == ",":
            out.append(",\n" + " " * (indent * depth))
        elif c == ":":
            out.append(": ")
        else:
            out.append(c)
        i += 1
    return "".join(out)


CSV_COLS = ["user_id", "status", "created_at", "name", "emails", "phone_numbers", "trusted_metadata",
            "untrusted_metadata", "providers", "webauthn_registrations", "biometric_registrations", "totps",
            "crypto_wallets", "password"]


def csv_cell(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (Raw, dict, list)):
        v = dump(v)
    return '"' + str(v).replace('"', '""') + '"'


def main():
    with open("users.jsonl", "w", encoding="utf-8") as f:
        for i, u in enumerate(USERS):
            f.write(dump(u) + "\n")
            if i == 1:
                f.write("\n")  # a blank line, skipped
    with open("users.json", "w", encoding="utf-8") as f:
        f.write(dump(USERS, 2) + "\n")
    with open("users.csv", "w", encoding="utf-8") as f:
        header = ",".join('"%s"' % c for c in CSV_COLS) + "\n"
        for p in range(0, len(USERS), CSV_PAGE):
            f.write(header)
            for u in USERS[p:p + CSV_PAGE]:
                f.write(",".join(csv_cell(u.get(c)) for c in CSV_COLS) + "\n")
    open("empty.jsonl", "w").close()
    with open("empty.json", "w") as f:
        f.write("[]\n")
    with open("empty.csv", "w") as f:
        f.write(",".join('"%s"' % c for c in CSV_COLS) + "\n")


if __name__ == "__main__":
    main()
