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
        "description": "Presence of users at workstations, users' routing preferences and "
        'the destinations they can choose. Errors are {"error": "..."}; request bodies '
        "are JSON objects of at most 64 KiB, and unknown fields are refused.",
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
