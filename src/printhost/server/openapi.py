"""The OpenAPI 3.1 description of the REST API v1 (``rest.py``), served at
``/api/v1/openapi.json``. Written by hand; tests/server/test_rest.py checks that every
path and method of ``rest.PATHS`` is described here and nothing else."""

from __future__ import annotations

from typing import Any

from printhost import __version__


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _text(max_length: int, description: str) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, "description": description}


_NO_CONTENT = {"description": "done"}
_COMMON_ERRORS = {
    "400": _error("invalid request; the message names the field"),
    "401": _error("not authenticated (a WWW-Authenticate header says how)"),
    "403": _error("authenticated, but not allowed"),
}
_BODY_ERRORS = {
    "408": _error("the request body stalled"),
    "413": _error("request body larger than 64 KiB"),
    "415": _error("Content-Type is not application/json"),
}
_REPORTERS: list[dict[str, list[str]]] = [{"agentToken": []}, {"basicAuth": []}]
_USER: list[dict[str, list[str]]] = [{"basicAuth": []}]
_MONEY = {"type": "string", "pattern": "^[+-]?[0-9]+(\\.[0-9]{1,2})?$", "examples": ["5.00"]}
_ACCOUNTING_OFF = {
    "404": _error("accounting is not enabled ([accounting] enabled), or no such account or job")
}
_USER_QUERY = [
    {
        "name": "user",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "operators and admins: this user's; users: only their own",
    }
]
_NAME_PATH = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
_JOB_PATH = [
    {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
]
_PRESENCE_QUERY = [
    {"name": "user", "in": "query", "required": True, "schema": {"type": "string"}},
    {"name": "host", "in": "query", "required": True, "schema": {"type": "string"}},
]

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "PresenceReport": {
        "type": "object",
        "additionalProperties": False,
        "required": ["user", "host", "ttl_seconds"],
        "properties": {
            "user": _text(255, "the user logged in"),
            "host": _text(253, "the workstation (compared in lower case)"),
            "ttl_seconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "how long the report holds; capped at "
                "routing.max_presence_seconds. Agents report again well before it ends.",
            },
            "source": _text(64, 'who reports, for the audit trail (default "agent")'),
            "agent_uri": {
                "type": "string",
                "format": "uri",
                "maxLength": 1024,
                "description": "the workstation agent's IPP printer (ipp:// or ipps://); "
                "the user's desktop jobs are delivered there",
            },
            "location": _text(255, "where the workstation is"),
        },
    },
    "Presence": {
        "type": "object",
        "properties": {
            "user": {"type": "string"},
            "host": {"type": "string"},
            "expires_at": {"type": "number", "description": "seconds since the epoch"},
            "updated_at": {"type": "number", "description": "seconds since the epoch"},
            "source": {"type": "string"},
            "agent_uri": {"type": ["string", "null"]},
        },
    },
    "JobDefaults": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "sides": {
                "enum": ["", "one-sided", "two-sided-long-edge", "two-sided-short-edge"],
                "description": '"" = no default',
            },
            "print_color_mode": {"enum": ["", "auto", "color", "monochrome"]},
            "orientation_requested": {
                "enum": [0, 3, 4, 5, 6],
                "description": "0 = no default; RFC 8011 §5.2.10 enum values",
            },
            "max_copies": {
                "type": "integer",
                "minimum": 0,
                "maximum": 9999,
                "description": "more copies are cut down to this; 0 = no limit",
            },
        },
    },
    "PreferencesUpdate": {
        "type": "object",
        "additionalProperties": False,
        "description": "A partial update: fields left out (also inside defaults) keep their value.",
        "properties": {
            "destination": {
                "type": "string",
                "description": 'a printer or pool name (GET /destinations), "desktop" '
                '(the workstation the user is logged in at) or "" (the default)',
            },
            "defaults": _ref("JobDefaults"),
            "banner": {
                "type": ["boolean", "null"],
                "description": "banner page: null = as the queue says",
            },
            "location": _text(255, "where the user works (nearest pool)"),
        },
    },
    "Preferences": {
        "type": "object",
        "properties": {
            "user": {"type": "string"},
            "destination": {"type": "string"},
            "defaults": _ref("JobDefaults"),
            "banner": {"type": ["boolean", "null"]},
            "location": {"type": "string"},
            "updated_at": {
                "type": ["number", "null"],
                "description": "null when the user never set preferences",
            },
        },
    },
    "Destination": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "kind": {"enum": ["printer", "pool"]},
            "info": {"type": "string"},
            "location": {"type": "string"},
            "is_up": {"type": "boolean", "description": "a pool is up when a member is"},
            "state_message": {"type": "string"},
            "members": {"type": "array", "items": {"type": "string"}},
            "standby": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Account": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "kind": {"enum": ["personal", "shared"]},
            "owner": {"type": "string", "description": '"" when a shared account has none'},
            "members": {"type": "array", "items": {"type": "string"}},
            "available": _MONEY,
            "reserved": {**_MONEY, "description": "held for jobs not yet printed"},
            "overdraft": {**_MONEY, "description": "how far below zero available may go"},
            "currency": {"type": "string", "description": 'display only; "" = none set'},
        },
    },
    "Transaction": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "time": {"type": "number", "description": "seconds since the epoch"},
            "kind": {
                "enum": ["reserve", "commit", "release", "refund", "credit", "debit", "allocation"]
            },
            "job_id": {"type": ["integer", "null"]},
            "reason": {"type": "string"},
            "amount": {**_MONEY, "description": "what it moved on this account (signed)"},
        },
    },
    "AccountDetail": {
        "allOf": [
            _ref("Account"),
            {
                "type": "object",
                "properties": {
                    "transactions": {
                        "type": "array",
                        "items": _ref("Transaction"),
                        "description": "the last 50, oldest first",
                    }
                },
            },
        ]
    },
    "Balance": {
        "type": "object",
        "properties": {
            "user": {"type": "string"},
            "currency": {"type": "string"},
            "accounts": {
                "type": "array",
                "items": _ref("Account"),
                "description": "the personal account and the shared accounts the user may charge",
            },
        },
    },
    "TransactionRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["amount", "reason"],
        "properties": {
            "amount": {
                **_MONEY,
                "description": 'not zero: "5.00" credits, "-2.00" debits (at most two decimals)',
            },
            "reason": {**_text(200, "why, for the account's history"), "minLength": 1},
        },
    },
    "TransactionResult": {
        "allOf": [
            _ref("Account"),
            {
                "type": "object",
                "properties": {
                    "transaction": _ref("Transaction"),
                    "released_jobs": {
                        "type": "integer",
                        "description": "jobs held for want of money (account-limit-reached) "
                        "given another try; 0 for a debit",
                    },
                },
            },
        ]
    },
    "Decision": {
        "type": "object",
        "description": "what the judge decided (its rules, the price and the account)",
        "properties": {
            "verdict": {"enum": ["allow", "hold"]},
            "message": {"type": "string"},
            "rules": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the rules that fired, in order",
            },
            "destination": {"type": "string", "description": "the printer or pool priced"},
            "account": {"type": ["string", "null"], "description": "null when free"},
            "cost": _MONEY,
            "impressions": {"type": "integer"},
            "color_impressions": {"type": "integer"},
            "sheets": {"type": "integer"},
            "grayscale": {"type": "boolean"},
            "duplex": {"type": "boolean"},
            "watermarks": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Job": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "owner": {"type": "string"},
            "queue": {"type": "string"},
            "state": {
                "enum": [
                    "pending",
                    "pending-held",
                    "processing",
                    "processing-stopped",
                    "canceled",
                    "aborted",
                    "completed",
                ]
            },
            "state_reasons": {"type": "array", "items": {"type": "string"}},
            "state_message": {"type": "string"},
            "printer": {"type": ["string", "null"], "description": "the printer chosen"},
            "release_printer": {
                "type": ["string", "null"],
                "description": "the printer its owner chose at release",
            },
            "created_at": {"type": "number"},
            "completed_at": {"type": ["number", "null"]},
            "impressions_completed": {"type": "integer"},
            "analysis": {
                "oneOf": [
                    {"type": "null", "description": "not analysed yet"},
                    {
                        "type": "object",
                        "properties": {
                            "pages": {"type": "integer"},
                            "color_pages": {"type": "integer"},
                        },
                    },
                    {
                        "type": "object",
                        "properties": {"error": {"type": "string"}},
                        "description": "the documents could not be analysed",
                    },
                ]
            },
            "decision": {
                "oneOf": [{"type": "null", "description": "not judged yet"}, _ref("Decision")]
            },
        },
    },
    "ReleaseRequest": {
        "type": "object",
        "additionalProperties": False,
        "description": "Every field is optional; {} releases the job as it is.",
        "properties": {
            "printer": _text(255, "print at this printer of the job's destination pool"),
            "pin": _text(16, "the job's PIN, when it was sent with one (operators need none)"),
            "account": _text(
                255,
                "charge this account instead (the owner's own or a shared one they may "
                "charge); the job is judged again",
            ),
        },
    },
    "Node": {
        "type": "object",
        "description": "A printhost process sharing the store, as its heartbeat last said",
        "properties": {
            "name": {"type": "string", "description": "also the owner of its job leases"},
            "address": {
                "type": "string",
                "description": 'the URL it is reached at ([cluster] advertise); "" = unknown',
            },
            "roles": {"type": "array", "items": {"enum": ["intake", "dispatch", "web"]}},
            "version": {"type": "string", "description": "its printhost version"},
            "state": {
                "enum": ["up", "draining", "stopped", "dead"],
                "description": "dead: no heartbeat for [cluster] dead_after_seconds (it "
                "did not stop in order); draining: finishing its work after SIGTERM",
            },
            "load": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": 'counters, e.g. {"deliveries": 3, "workers": 8}',
            },
            "started_at": {"type": "number", "description": "seconds since the epoch"},
            "heartbeat_at": {"type": "number", "description": "its last heartbeat"},
            "seconds_since_heartbeat": {
                "type": "number",
                "minimum": 0,
                "description": "by the answering node's clock",
            },
        },
    },
}

_PATHS: dict[str, Any] = {
    "/presence": {
        "post": {
            "summary": "Report that a user is logged in at a workstation",
            "description": "Releases the user's jobs held for want of a route.",
            "security": _REPORTERS,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("PresenceReport")}},
            },
            "responses": {"204": _NO_CONTENT, **_COMMON_ERRORS, **_BODY_ERRORS},
        },
        "delete": {
            "summary": "Report that a user logged out of a workstation",
            "security": _REPORTERS,
            "parameters": _PRESENCE_QUERY,
            "responses": {"204": _NO_CONTENT, **_COMMON_ERRORS},
        },
        "get": {
            "summary": "Where users are logged in now",
            "description": "Operators and admins see everyone; a user only themself "
            "(with ?user=<name>).",
            "security": _USER,
            "parameters": [
                {"name": "user", "in": "query", "required": False, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": _json({"type": "array", "items": _ref("Presence")}, "unexpired presence"),
                **_COMMON_ERRORS,
            },
        },
    },
    "/users/{name}/preferences": {
        "parameters": [
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "get": {
            "summary": "A user's routing preferences (the user themself or an admin)",
            "security": _USER,
            "responses": {"200": _json(_ref("Preferences"), "preferences"), **_COMMON_ERRORS},
        },
        "put": {
            "summary": "Change a user's routing preferences (the user themself or an admin)",
            "description": "Releases the user's jobs held for want of a route.",
            "security": _USER,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("PreferencesUpdate")}},
            },
            "responses": {
                "200": _json(_ref("Preferences"), "the preferences now"),
                **_COMMON_ERRORS,
                **_BODY_ERRORS,
            },
        },
    },
    "/destinations": {
        "get": {
            "summary": "Printers and pools a user can choose, with their state",
            "description": "Anonymous unless the server refuses anonymous use.",
            "security": [{}, *_USER],
            "responses": {
                "200": _json({"type": "array", "items": _ref("Destination")}, "destinations"),
                "401": _COMMON_ERRORS["401"],
            },
        },
    },
    "/accounts": {
        "get": {
            "summary": "Accounts with their balances",
            "description": "Operators and admins see every account (or a user's, with "
            "?user=); a user sees their personal account and the shared accounts they may "
            "charge.",
            "security": _USER,
            "parameters": _USER_QUERY,
            "responses": {
                "200": _json({"type": "array", "items": _ref("Account")}, "accounts"),
                **_COMMON_ERRORS,
                **_ACCOUNTING_OFF,
            },
        },
    },
    "/accounts/{name}": {
        "parameters": _NAME_PATH,
        "get": {
            "summary": "An account, its balance and its latest transactions",
            "description": "Operators and admins, and the account's owner and members.",
            "security": _USER,
            "responses": {
                "200": _json(_ref("AccountDetail"), "the account"),
                **_COMMON_ERRORS,
                **_ACCOUNTING_OFF,
            },
        },
    },
    "/accounts/{name}/transactions": {
        "parameters": _NAME_PATH,
        "post": {
            "summary": "Credit or debit an account by hand (admins)",
            "description": "A positive amount credits, a negative one debits (a debit may "
            "take the account below its overdraft). A credit releases the account's jobs held "
            "with reason account-limit-reached, so they are judged and reserved again. A user "
            "who never printed gets their personal account opened first.",
            "security": _USER,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("TransactionRequest")}},
            },
            "responses": {
                "200": _json(_ref("TransactionResult"), "the account after the transaction"),
                **_COMMON_ERRORS,
                **_ACCOUNTING_OFF,
                **_BODY_ERRORS,
            },
        },
    },
    "/users/{name}/balance": {
        "parameters": _NAME_PATH,
        "get": {
            "summary": "A user's balance (the user themself, operators and admins)",
            "description": "Opens the user's personal account (with the initial balance) "
            "when they have none yet.",
            "security": _USER,
            "responses": {
                "200": _json(_ref("Balance"), "the user's accounts"),
                **_COMMON_ERRORS,
                **_ACCOUNTING_OFF,
            },
        },
    },
    "/jobs": {
        "get": {
            "summary": "Jobs with what the judge decided (pages, cost, account, rules)",
            "description": "A user sees their own jobs; operators and admins everybody's "
            "(or a user's, with ?user=). At most 500.",
            "security": _USER,
            "parameters": [
                *_USER_QUERY,
                {
                    "name": "which",
                    "in": "query",
                    "required": False,
                    "schema": {
                        "enum": ["not-completed", "completed", "all"],
                        "default": "not-completed",
                    },
                },
            ],
            "responses": {
                "200": _json({"type": "array", "items": _ref("Job")}, "jobs"),
                **_COMMON_ERRORS,
                **_ACCOUNTING_OFF,
            },
        },
    },
    "/jobs/{job_id}": {
        "parameters": _JOB_PATH,
        "get": {
            "summary": "A job with what the judge decided (its owner, operators and admins)",
            "security": _USER,
            "responses": {
                "200": _json(_ref("Job"), "the job"),
                **_COMMON_ERRORS,
                **_ACCOUNTING_OFF,
            },
        },
    },
    "/jobs/{job_id}/release": {
        "parameters": _JOB_PATH,
        "post": {
            "summary": "Release a held job, optionally at one printer or on another account",
            "description": "Its owner (with the job's PIN, when it has one) or an operator. "
            "A printer must be a member (or standby) of the job's destination; the 400 "
            "names the choices. Another account must be one the owner may charge.",
            "security": _USER,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ReleaseRequest")}},
            },
            "responses": {
                "200": _json(_ref("Job"), "the job, released"),
                **_COMMON_ERRORS,
                "403": _error(
                    "not your job, a wrong or missing PIN, or an account you may not charge"
                ),
                **_ACCOUNTING_OFF,
                "409": _error(
                    "the job is not held, cannot be routed now, or its cost is already "
                    "reserved on another account"
                ),
                **_BODY_ERRORS,
            },
        },
    },
    "/nodes": {
        "get": {
            "summary": "The cluster's nodes: address, roles, state and load (operators, admins)",
            "description": "Every node sharing the store, by name, stopped and dead ones "
            "included until they have been silent for a day.",
            "security": _USER,
            "responses": {
                "200": _json({"type": "array", "items": _ref("Node")}, "nodes"),
                **_COMMON_ERRORS,
            },
        },
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [{}],
            "responses": {"200": {"description": "OpenAPI 3.1 document"}},
        },
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "printhost REST API",
        "version": f"1 (printhost {__version__})",
        "description": "Presence of users at workstations, users' routing preferences, "
        "the destinations they can choose and, with [accounting] enabled, accounts, "
        "balances, jobs with the judge's decisions and their release; and the cluster's "
        'nodes. Amounts of money are strings with two decimals ("5.00"). Errors are '
        '{"error": "..."}; request bodies are JSON objects of at most 64 KiB, and unknown '
        "fields are refused.",
    },
    "servers": [{"url": "/api/v1"}],
    "paths": _PATHS,
    "components": {
        "schemas": _SCHEMAS,
        "securitySchemes": {
            "basicAuth": {"type": "http", "scheme": "basic"},
            "agentToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "one of routing.agent_tokens",
            },
        },
    },
}
