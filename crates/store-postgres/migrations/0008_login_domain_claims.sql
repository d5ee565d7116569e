-- Login domains become claims that must be proved (DNS TXT record or an operator's approval)
-- before they route anyone. Several organizations may claim one domain; at most one claim
-- per domain is verified. Times are Unix milliseconds.
CREATE TABLE login_domain_claims (
    org_id              UUID NOT NULL REFERENCES organizations(id),
    domain              TEXT COLLATE "C" NOT NULL,
    verification_value  TEXT COLLATE "C" NOT NULL,
    -- 'dns' | 'operator' | 'upgrade'; NULL while unverified.
    proof               TEXT COLLATE "C",
    verified_at         BIGINT,
    last_checked_at     BIGINT,
    failed_checks       INTEGER NOT NULL DEFAULT 0,
    note                TEXT,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (org_id, domain)
);
-- One verified claim per domain; also what /login reads.
CREATE UNIQUE INDEX login_domain_claims_verified ON login_domain_claims (domain)
    WHERE proof IS NOT NULL;
-- Every organization's claim on a domain.
CREATE INDEX login_domain_claims_domain ON login_domain_claims (domain);
-- The periodic re-check's work list.
CREATE INDEX login_domain_claims_dns_due ON login_domain_claims (last_checked_at)
    WHERE proof = 'dns';

-- Existing login domains were each routed by one organization, chosen by its admins: they are
-- kept verified ('upgrade', an operator's approval by default) so an upgrade does not stop
-- anyone's sign-in. Public mail domains (the list of directory::public_mail) are the
-- exception: they could never be proved, and now route nobody.
INSERT INTO login_domain_claims
    (org_id, domain, verification_value, proof, verified_at, note, created_at)
SELECT
    org_id,
    domain,
    replace(gen_random_uuid()::text, '-', ''),
    CASE WHEN is_public THEN NULL ELSE 'upgrade' END,
    CASE WHEN is_public THEN NULL ELSE now_ms END,
    CASE WHEN is_public
        THEN 'a public mail domain: anyone can have an address there, so it cannot send its people to one organization'
        ELSE 'kept from before login domains had to be proved' END,
    now_ms
FROM (
    SELECT
        org_id,
        domain,
        (extract(epoch FROM now()) * 1000)::bigint AS now_ms,
        (domain IN (
            'gmail.com', 'googlemail.com', 'outlook.com', 'hotmail.com', 'live.com',
            'msn.com', 'yahoo.com', 'ymail.com', 'icloud.com', 'me.com', 'mac.com',
            'aol.com', 'proton.me', 'protonmail.com', 'pm.me', 'mail.ru', 'qq.com',
            '163.com', '126.com', 'yeah.net', 'zoho.com', 'mail.com', 'web.de',
            'fastmail.com', 'tutanota.com', 'hey.com', 'duck.com')
         OR (domain LIKE 'gmx.%' AND domain NOT LIKE 'gmx.%.%')
         OR (domain LIKE 'gmx.co.%' AND domain NOT LIKE 'gmx.co.%.%')
         OR (domain LIKE 'gmx.com.%' AND domain NOT LIKE 'gmx.com.%.%')
         OR (domain LIKE 'yandex.%' AND domain NOT LIKE 'yandex.%.%')
         OR (domain LIKE 'yandex.co.%' AND domain NOT LIKE 'yandex.co.%.%')
         OR (domain LIKE 'yandex.com.%' AND domain NOT LIKE 'yandex.com.%.%')
         OR (domain LIKE 'yahoo.%' AND domain NOT LIKE 'yahoo.%.%')
         OR (domain LIKE 'yahoo.co.%' AND domain NOT LIKE 'yahoo.co.%.%')
         OR (domain LIKE 'yahoo.com.%' AND domain NOT LIKE 'yahoo.com.%.%')
         OR (domain LIKE 'hotmail.%' AND domain NOT LIKE 'hotmail.%.%')
         OR (domain LIKE 'hotmail.co.%' AND domain NOT LIKE 'hotmail.co.%.%')
         OR (domain LIKE 'hotmail.com.%' AND domain NOT LIKE 'hotmail.com.%.%')
         OR (domain LIKE 'outlook.%' AND domain NOT LIKE 'outlook.%.%')
         OR (domain LIKE 'outlook.co.%' AND domain NOT LIKE 'outlook.co.%.%')
         OR (domain LIKE 'outlook.com.%' AND domain NOT LIKE 'outlook.com.%.%')
         OR (domain LIKE 'live.%' AND domain NOT LIKE 'live.%.%')
         OR (domain LIKE 'live.co.%' AND domain NOT LIKE 'live.co.%.%')
         OR (domain LIKE 'live.com.%' AND domain NOT LIKE 'live.com.%.%')) AS is_public
    FROM saml_domains
) AS existing;

DROP TABLE saml_domains;
