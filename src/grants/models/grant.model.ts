import { Field, ID, ObjectType, registerEnumType } from '@nestjs/graphql';
import { PurposeEnum } from '../../query/dto/records.args.js';

export enum ApplicationStatusEnum {
  pending = 'pending',
  approved = 'approved',
  rejected = 'rejected',
}
registerEnumType(ApplicationStatusEnum, { name: 'GrantApplicationStatus' });

export enum GrantStateEnum {
  scheduled = 'scheduled',
  active = 'active',
  expired = 'expired',
  revoked = 'revoked',
}
registerEnumType(GrantStateEnum, {
  name: 'GrantState',
  description: 'Derived from the dates and revocation at the time of the request.',
});

@ObjectType('GrantApplication', {
  description: "A department's application for a data-sharing grant, and the owner's decision. Metadata only.",
})
export class GrantApplicationModel {
  @Field(() => ID) id!: string;
  @Field(() => String, { description: 'the applying department' }) applicantOrg!: string;
  @Field(() => String, { description: 'who applied' }) applicantSub!: string;
  @Field(() => ID) dataset!: string;
  @Field(() => String, { description: "the dataset's owning department, which decides" }) ownerOrg!: string;
  @Field(() => [String]) fields!: string[];
  @Field(() => PurposeEnum) purpose!: PurposeEnum;
  @Field(() => [ID], { description: 'hierarchy unit ids; empty: the whole city' }) extent!: string[];
  @Field(() => Date) validFrom!: Date;
  @Field(() => Date) validUntil!: Date;
  @Field(() => String) legalBasis!: string;
  @Field(() => String) contact!: string;
  @Field(() => ApplicationStatusEnum) status!: ApplicationStatusEnum;
  @Field(() => Date) createdAt!: Date;
  @Field(() => String, { nullable: true }) decidedBy!: string | null;
  @Field(() => Date, { nullable: true }) decidedAt!: Date | null;
  @Field(() => String, { nullable: true, description: "the owner's reason (required for a rejection)" })
  reason!: string | null;
  @Field(() => ID, { nullable: true, description: 'the grant an approval created' }) grantId!: string | null;
}

@ObjectType('Grant', { description: 'A data-sharing grant: which department may read which fields, why, where, when.' })
export class GrantModel {
  @Field(() => ID) id!: string;
  @Field(() => String, { description: 'the department holding the grant' }) org!: string;
  @Field(() => ID) dataset!: string;
  @Field(() => [String]) fields!: string[];
  @Field(() => PurposeEnum) purpose!: PurposeEnum;
  @Field(() => [ID], { description: 'hierarchy unit ids; empty: the whole city' }) extent!: string[];
  @Field(() => Date) validFrom!: Date;
  @Field(() => Date) validUntil!: Date;
  @Field(() => GrantStateEnum) state!: GrantStateEnum;
  @Field(() => String) approvedBy!: string;
  @Field(() => ID, { nullable: true }) applicationId!: string | null;
  @Field(() => Date, { nullable: true }) revokedAt!: Date | null;
  @Field(() => String, { nullable: true }) revokedBy!: string | null;
  @Field(() => String, { nullable: true }) revokeReason!: string | null;
}
