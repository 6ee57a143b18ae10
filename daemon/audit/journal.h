// Provenance records in the journal, beside the log: for operators who live
// in journalctl, and as an outside witness of the chain (each entry carries
// the record's seq and SHA-256, so a rewritten log disagrees with the journal).
//
// Fields: MESSAGE_ID (message_ids.h, one per kind), MESSAGE (one human line),
// PRIORITY, GRANTD_KIND, GRANTD_SEQ, GRANTD_RECORD_SHA256, and per kind
// GRANTD_SESSION, GRANTD_GRANT, GRANTD_REQUEST, GRANTD_RIGHTS, GRANTD_PATH
// (once per path), … — see journal.cpp, and
//   journalctl -o verbose MESSAGE_ID=e71edcf4b3454dba9a7d156343e80938
#pragma once

#include "audit/record.h"

#include <grantd/result.h>

#include <string>
#include <vector>

namespace grantd::audit {

// "NAME=value" entries in a stable order. Values may hold any bytes
// (newlines included); sd_journal_sendv carries them in its binary form.
std::vector<std::string> journal_fields(const Record& record);

// Sends journal_fields(record) with sd_journal_sendv.
Result<void> send_to_journal(const Record& record);

} // namespace grantd::audit
