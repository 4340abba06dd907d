"""The Glue job's XML task functions hold one record at a time, not the file's every record
(pipelines/aws/xml_rows.py). No Spark needed: these are the functions its tasks run."""

from __future__ import annotations

import gzip
import tracemalloc

from pipelines.aws.xml_rows import columns_of, rows_of


def _sales(n: int) -> bytes:
    rows = "".join(
        f"<sale id='S{i:07d}'><concert_id>C{i % 500:04d}</concert_id><channel>web</channel>"
        f"<quantity>2</quantity><unit_price>45.50</unit_price><amount>91.00</amount></sale>\n"
        for i in range(n)
    )
    return f"<?xml version='1.0'?>\n<sales>\n{rows}</sales>\n".encode()


def test_a_task_holds_one_record_at_a_time_not_the_files_records() -> None:
    data = _sales(4_000)  # 0.6 MB
    list(rows_of(_sales(1), ["id"]))  # imports and parser set-up are not the file's
    tracemalloc.start()
    try:
        columns, refused = columns_of(data)
        rows = 0
        for row in rows_of(data, list(columns)):
            rows += 1
            last = row
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused == "" and rows == 4_000
    assert list(columns.values()) == ["id", "concert_id", "channel", "quantity", "unit_price",
                                      "amount"]  # fmt: skip
    assert last == ("S0003999", "C0499", "web", "2", "45.50", "91.00", 3 + 3_999)
    # about 0.23 MB whatever the file's size (the parser's buffers); 4 MB when records were kept
    assert peak < 1_000_000, f"peak {peak:,} bytes for a {len(data):,}-byte file"


def test_a_gzipped_file_gives_the_same_rows_and_a_refusal_is_reported_once() -> None:
    data = _sales(50)
    columns, _ = columns_of(data)
    zipped = gzip.compress(data)
    assert columns_of(zipped) == (columns, "")
    assert list(rows_of(zipped, list(columns))) == list(rows_of(data, list(columns)))

    attack = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x><r>&a;</r></x>'
    assert columns_of(attack)[0] == {} and "DTD" in columns_of(attack)[1]
    assert list(rows_of(attack, ["r"])) == []  # the columns pass raised it on the driver
    broken = b"<x><r>1</r><r>2</x>"
    assert columns_of(broken) == ({}, "not well-formed XML: mismatched tag (line 1)")
    assert list(rows_of(broken, ["r"])) == []
