// journald MESSAGE_IDs of provenance records, one per kind:
//   journalctl MESSAGE_ID=e71edcf4b3454dba9a7d156343e80938 shows every grant grantd issued.
// Random 128-bit ids generated once, as systemd's catalog ids are; never
// change one, since saved queries, alerts and catalog entries name them.
#pragma once

namespace grantd::audit {

inline constexpr const char kMessageRequest[] = "b0e8cc1e4709450380053a5c5a8403fa";
inline constexpr const char kMessageEvaluation[] = "7458dce59cca4944b1597c814728bbd0";
inline constexpr const char kMessageApproval[] = "0fd6fcc8380c431aa652650c57da847c";
inline constexpr const char kMessageGrant[] = "e71edcf4b3454dba9a7d156343e80938";
inline constexpr const char kMessageDerivation[] = "cfcc1d796a564be9ae06a1227d0eed0c";
inline constexpr const char kMessageRevocation[] = "4d08465db63e4076b699dff5dad774fc";
inline constexpr const char kMessageExpiry[] = "0fa6c6793fa8410d851b61401fc7ea63";
inline constexpr const char kMessageSessionOpened[] = "cf68533febaa44f7a052481b5e755f09";
inline constexpr const char kMessageSessionClosed[] = "a7ddcf32cfc642e9b11563fd0f810ea1";
inline constexpr const char kMessageKernelDecision[] = "0c5a22e4a12547dab8b62227ce637020";
inline constexpr const char kMessageModeChange[] = "5b0f3c4e9d2a4e7f8a61c2d93e4b7a10";
inline constexpr const char kMessageRestart[] = "9e2d7c61a4b84f03b5d8e1f2c3a49d57";
inline constexpr const char kMessageEventsLost[] = "3f6b1e0c8d7a4c29a5e4b7d2f9c06e31";

} // namespace grantd::audit
