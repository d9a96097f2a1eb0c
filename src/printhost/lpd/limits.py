"""The bounds the LPD core enforces, with their defaults and where they come from.

Everything an LPD client sends is a claim of unbounded size until checked: command
lines, counts, control files, names and fields. Each bound here is a constructor argument
of the core (``LpdConnection(limits=...)``); the defaults follow RFC 1179 and what the
reference implementations accept. Idle time is not here: waiting is the transport's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    #: A daemon command or receive-job subcommand line, LF included (RFC 1179 §3 gives no
    #: limit; queue names and job lists are short: cups-lpd reads 256 octets).
    max_command_bytes: int = 1024
    #: A whole control file. Ordinary ones are a few hundred octets; 100 documents with
    #: ten copies each fit easily.
    max_control_file_bytes: int = 65536
    #: One control file line. LPRng caps its fields at 131 (``M_DEFAULT``); its ``Z``
    #: option lines can be longer.
    max_control_line_bytes: int = 1024
    #: Data files per job, as cups-lpd caps them.
    max_data_files: int = 100
    #: Data octets per job, all files together (printhost: ``jobs.max_document_bytes``).
    max_job_bytes: int = 1 << 30
    #: A control or data file name (``cfA123host``). RFC 1179 §7 only says how to make
    #: them; a host name is at most 255 octets.
    max_file_name_bytes: int = 255
    #: Queue names (RFC 1179 §5 leaves them open; printhost's are at most 127 octets).
    max_queue_name_bytes: int = 127
    #: Items in a queue-state or remove-jobs list (§5.3-5.5).
    max_list_items: int = 100
    # Control-file fields (§7) are cut, not refused, to these lengths (octets of UTF-8),
    # as CUPS's lpd backend cuts what it sends: a 40-character host name is no attack.
    #: H, P, L, C (§7.2, §7.8, §7.5, §7.1: "less than 32 octets").
    max_short_field_bytes: int = 31
    #: J (§7.4 job name: "less than 100 octets").
    max_job_name_bytes: int = 99
    #: T (§7.19 title for pr: "less than 80 octets").
    max_title_bytes: int = 79
    #: N, M and other free-text fields (§7.7 source file name: "less than 132 octets").
    max_text_field_bytes: int = 131

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if getattr(self, name) < 1:
                raise ValueError(f"Limits.{name} must be at least 1")
