// Validates the Okta-shaped fixture response (crates/saml/tests/fixtures/okta-sp-initiated.xml:
// Response and Assertion both signed, RSA-2048, exc-c14n) with node-saml, the SAML core of
// passport-saml, as often as it can for a few seconds, and prints validations per second.
// Same checks asked as of Portcullis: both signatures, issuer, audience; node-saml's clock
// check is turned off because the fixture was signed for a fixed instant.
//
//   node bench.js [seconds]        (one process = one core; run two for two cores)
"use strict";
const fs = require("fs");
const path = require("path");
const { SAML } = require("@node-saml/node-saml");

const fixtures = path.join(__dirname, "../../crates/saml/tests/fixtures");
const xml = fs.readFileSync(path.join(fixtures, "okta-sp-initiated.xml"), "utf8");
const cert = fs.readFileSync(path.join(fixtures, "idp1.crt"), "utf8");
const body = { SAMLResponse: Buffer.from(xml).toString("base64") };

const saml = new SAML({
  callbackUrl: "https://portcullis.example.com/saml/cl1ent/acs",
  entryPoint: "https://idp.example.com/sso",
  issuer: "https://portcullis.example.com/saml/cl1ent",
  audience: "https://portcullis.example.com/saml/cl1ent",
  idpIssuer: "http://www.okta.com/exk1fixture0000000001",
  idpCert: cert,
  wantAssertionsSigned: true,
  wantAuthnResponseSigned: true,
  acceptedClockSkewMs: -1,
  validateInResponseTo: "never",
});

async function main() {
  const seconds = Number(process.argv[2] || 5);
  // One validation first: a refusal must fail the benchmark, not be timed.
  const first = await saml.validatePostResponseAsync(body);
  if (!first.profile || !first.profile.nameID) throw new Error("not validated");
  let n = 0;
  const until = Date.now() + seconds * 1000;
  const start = process.hrtime.bigint();
  while (Date.now() < until) {
    await saml.validatePostResponseAsync(body);
    n++;
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`node-saml: ${(n / elapsed).toFixed(0)} validations/s on one core (${first.profile.nameID})`);
}
main().catch((e) => { console.error(e); process.exit(1); });
