// SHA-256 through libcrypto, with the digest and its context fetched once per
// hasher rather than once per record (implicit fetches are slow in OpenSSL 3).
#pragma once

#include "audit/record.h"

#include <grantd/result.h>

#include <openssl/types.h>

#include <memory>
#include <span>

namespace grantd::audit {

class Sha256Hasher {
public:
	static Result<Sha256Hasher> create();
	Result<Sha256> digest(std::span<const std::uint8_t> data);

private:
	struct MdFree {
		void operator()(EVP_MD* md) const;
	};
	struct CtxFree {
		void operator()(EVP_MD_CTX* ctx) const;
	};
	std::unique_ptr<EVP_MD, MdFree> md_;
	std::unique_ptr<EVP_MD_CTX, CtxFree> ctx_;
};

} // namespace grantd::audit
