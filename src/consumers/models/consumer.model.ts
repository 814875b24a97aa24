import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';

export enum ConsumerTierEnum {
  open = 'open',
  partner = 'partner',
}
registerEnumType(ConsumerTierEnum, {
  name: 'ConsumerTier',
  description: 'Rate-limit tier of a consumer key: open (self-service) or partner (set by an admin).',
});

@ObjectType('RateLimits', { description: 'Limits per window: operations, and records returned.' })
export class RateLimitsModel {
  @Field(() => Int) windowSeconds!: number;
  @Field(() => Int) operations!: number;
  @Field(() => Int) records!: number;
}

@ObjectType('Consumer', { description: 'A registered open-data consumer (its own view, or an admin’s).' })
export class ConsumerModel {
  @Field(() => ID) id!: string;
  @Field(() => ID, { description: 'Id of its API key (for revocation).' }) apiKeyId!: string;
  @Field(() => String) name!: string;
  @Field(() => String) email!: string;
  @Field(() => String) intendedUse!: string;
  @Field(() => ConsumerTierEnum) tier!: ConsumerTierEnum;
  @Field(() => RateLimitsModel) limits!: RateLimitsModel;
  @Field(() => Date) createdAt!: Date;
  @Field(() => Date, { nullable: true }) revokedAt!: Date | null;
}

@ObjectType('ConsumerRegistration', { description: 'A new consumer and its API key, shown this once.' })
export class ConsumerRegistrationModel {
  @Field(() => ConsumerModel) consumer!: ConsumerModel;
  @Field(() => String, { description: 'Send it as `X-Api-Key`. Shown once: it is stored only as a hash.' })
  apiKey!: string;
}

@ObjectType('RateUsage', { description: 'What the caller used of its limits in the current window.' })
export class RateUsageModel {
  @Field(() => String, { description: 'anonymous, open, partner or department' }) tier!: string;
  @Field(() => RateLimitsModel) limits!: RateLimitsModel;
  @Field(() => Int) operations!: number;
  @Field(() => Int) records!: number;
  @Field(() => Date) resetsAt!: Date;
}
