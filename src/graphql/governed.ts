/**
 * Marks resolvers that release data: each goes through DataService (AccessService decision + provenance).
 * The schema-walk test (test/e2e/governance.e2e-spec.ts) fails if a root field reaches a data-bearing type
 * without being marked here (or as serving released outputs, below); METADATA_FIELDS lists the root fields that
 * carry no data values, with why.
 */
export const GOVERNED_FIELDS = new Set<string>();

export function Governed(): MethodDecorator {
  return (_target, key) => {
    GOVERNED_FIELDS.add(String(key));
  };
}

/**
 * Root fields that show outputs released earlier by a decided, checked and logged release (sandbox jobs): they make
 * no decision per call, and serve a job's outputs only once the job's release record is durable in the provenance
 * log (JobsService.publish), to its submitter or to an owner of the dataset. test/e2e/jobs.e2e-spec.ts checks that
 * outputs are absent until then and that the logged result hash is the hash of what they show.
 */
export const RELEASED_FIELDS = new Set<string>();

export function ServesReleased(): MethodDecorator {
  return (_target, key) => {
    RELEASED_FIELDS.add(String(key));
  };
}

/** Types whose values are dataset values. */
export const DATA_BEARING_TYPES = [
  'DataRecord',
  'FieldValue',
  'AggregateCell',
  'MeasureValue',
  'RecordPage',
  'AggregateResult',
  'EncryptedAggregate',
  'EncryptedCell',
  'PrivateAggregate',
  'PrivateCell',
  'JobOutputTable',
  'JobOutputRow',
];

/** Root fields that return metadata only, and why that is safe. */
export const METADATA_FIELDS: Record<string, string> = {
  me: "the caller's own identity",
  datasets: 'catalogue metadata and the caller’s own access preview; no values',
  dataset: 'catalogue metadata of one dataset; no values',
  units: 'official administrative divisions (district, subdistrict, community): public',
  auditTrail: 'provenance metadata for auditors; never data values',
  grainAccess: 'provenance metadata for auditors; never data values',
  accessReport: 'counts of requests for auditors; never data values',
  auditFlags: 'anomaly flags over provenance metadata, for auditors',
  datasetUsage:
    "provenance metadata (who, organisation, purpose, when, mode, fields, outcome, refusal, grant) of requests to the owner's own datasets (auditors: any); never data values",
  auditTrailCsv: 'provenance metadata as CSV, for auditors',
  logTreeHead: 'a signed tree head: hashes only',
  logPublicKey: 'the log public key',
  inclusionProof: 'hashes only',
  consistencyProof: 'hashes only',
  receiptBundle:
    "the caller's own provenance record (an owner: its datasets'; an auditor: any): metadata, never data values",
  health: 'liveness',
  uploadHeKeyBundle: "the owner's public key bundle in; returns its key id",
  uploadHeKeyBundlePart:
    "one part of the owner's public key bundle in; returns upload progress and, at the end, the key id",
  heKeyBundleUpload: "where the owner's key bundle upload stands (parts missing, check status, key id); metadata",
  uploadEncryptedColumnRows: "one part of the owner's record-id list in; returns upload progress",
  beginEncryptedColumn: 'the owner starts (or resumes) a column upload; returns upload progress',
  uploadCiphertextChunk: 'the owner uploads one ciphertext; returns upload progress',
  uploadCiphertextPart: 'the owner uploads one part of a ciphertext; returns upload progress',
  encryptedComputations:
    "the owner's encrypted computations awaiting or past its approval: who, why, kind, cell and unit counts; no values",
  encryptedComputation: 'one encrypted computation of the owner, for its approval or its key holder; no values',
  encryptedApprovalRules: "the owner's standing approval rules; metadata",
  approveEncryptedComputation: 'the owner approves a computation (logged first); returns its status, no values',
  refuseEncryptedComputation: 'the owner refuses a computation (logged first); returns its status, no values',
  setEncryptedApprovalRule: 'the owner sets a standing approval rule (logged first); returns it',
  revokeEncryptedApprovalRule: 'the owner revokes a standing approval rule (logged first); returns it',
  applyForGrant: 'a department applies for a grant; returns the application (metadata)',
  decideGrantApplication: "the dataset's owner approves or rejects; returns the application (metadata)",
  revokeGrant: 'the owner or an admin revokes a grant; returns the grant (metadata)',
  grantApplications: 'applications the caller’s department made or received (auditors: all); metadata',
  grantApplication: 'one application the caller may see; metadata',
  grants: 'grants the caller’s department holds or gave (auditors: all); metadata',
  registerConsumer: 'self-service registration; returns the new consumer and its API key, no data values',
  myConsumer: "the calling key's own registration",
  myRateUsage: "the caller's own rate limits and usage counts",
  revokeMyApiKey: 'revokes the calling key; returns true or false',
  revokeApiKey: 'admin: revokes a key; returns true or false',
  setConsumerTier: 'admin: sets a consumer tier; returns the consumer registration',
  setJobReviewRequired: 'an owner sets the review rule of a dataset; returns it',
};
