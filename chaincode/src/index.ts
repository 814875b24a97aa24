/** Entry point for fabric-chaincode-node: the contracts this chaincode serves. */
import { ProvenanceContract } from './provenance.contract';

export { ProvenanceContract };
export const contracts = [ProvenanceContract];
