#include "audit/sha256.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <string>

namespace grantd::audit {

namespace {

Error crypto_error(const std::string& what)
{
	char text[256] = "unknown libcrypto error";
	if (unsigned long code = ERR_get_error())
		ERR_error_string_n(code, text, sizeof text);
	ERR_clear_error();
	return Error{what + ": " + text};
}

} // namespace

void Sha256Hasher::MdFree::operator()(EVP_MD* md) const { EVP_MD_free(md); }
void Sha256Hasher::CtxFree::operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }

Result<Sha256Hasher> Sha256Hasher::create()
{
	Sha256Hasher hasher;
	hasher.md_.reset(EVP_MD_fetch(nullptr, "SHA256", nullptr));
	if (!hasher.md_)
		return crypto_error("fetch SHA-256");
	hasher.ctx_.reset(EVP_MD_CTX_new());
	if (!hasher.ctx_)
		return crypto_error("allocate digest context");
	return hasher;
}

Result<Sha256> Sha256Hasher::digest(std::span<const std::uint8_t> data)
{
	Sha256 out{};
	unsigned int size = 0;
	if (!EVP_DigestInit_ex(ctx_.get(), md_.get(), nullptr) ||
	    !EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) ||
	    !EVP_DigestFinal_ex(ctx_.get(), out.data(), &size) || size != out.size())
		return crypto_error("compute SHA-256");
	return out;
}

} // namespace grantd::audit
