import { Inject } from '@nestjs/common';
import { Args, Context, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import type { GatewayContext } from '../graphql/context.js';
import type { Consumer } from './consumers.repository.js';
import { ConsumersService } from './consumers.service.js';
import { RateLimiter, rateSubject } from './rate-limiter.js';
import { ConsumerModel, ConsumerRegistrationModel, ConsumerTierEnum, RateUsageModel } from './models/consumer.model.js';

/** Thin: self-service registration, the holder's own view and revocation, the admin's tier and revocation. */
@Resolver()
export class ConsumersResolver {
  constructor(
    @Inject(ConsumersService) private readonly consumers: ConsumersService,
    @Inject(RateLimiter) private readonly limiter: RateLimiter,
  ) {}

  @Mutation(() => ConsumerRegistrationModel, {
    description: 'Register as an open-data consumer: returns an API key once (tier open). Limited per client address.',
  })
  async registerConsumer(
    @Args('name') name: string,
    @Args('email') email: string,
    @Args('intendedUse') intendedUse: string,
    @Context() ctx: GatewayContext,
  ): Promise<ConsumerRegistrationModel> {
    const r = await this.consumers.register({ name, email, intendedUse }, ctx.request.ip);
    return { consumer: this.toModel(r.consumer), apiKey: r.apiKey };
  }

  @Query(() => ConsumerModel, { description: 'The consumer the calling API key belongs to.' })
  async myConsumer(@Context() ctx: GatewayContext): Promise<ConsumerModel> {
    return this.toModel(await this.consumers.mine(ctx.requester));
  }

  @Query(() => RateUsageModel, { description: 'Your rate limits and what you used of them in this window.' })
  async myRateUsage(@Context() ctx: GatewayContext): Promise<RateUsageModel> {
    const subject = await rateSubject(ctx.requester, ctx.request.ip, (id) => this.consumers.tierOfKey(id));
    const usage = await this.limiter.usage(subject);
    const l = this.consumers.limitsOf(subject.tier);
    return { tier: subject.tier, limits: l, ...usage };
  }

  @Mutation(() => Boolean, { description: 'Revoke the API key sent with this request (X-Api-Key).' })
  async revokeMyApiKey(@Context() ctx: GatewayContext): Promise<boolean> {
    return this.consumers.revokeOwn(ctx.requester);
  }

  @Mutation(() => Boolean, { description: 'Admin: revoke an API key by its id. False if unknown or already revoked.' })
  async revokeApiKey(@Args('id', { type: () => ID }) id: string, @Context() ctx: GatewayContext): Promise<boolean> {
    return this.consumers.revoke(ctx.requester, id);
  }

  @Mutation(() => ConsumerModel, { description: "Admin: set a consumer's rate-limit tier." })
  async setConsumerTier(
    @Args('consumerId', { type: () => ID }) consumerId: string,
    @Args('tier', { type: () => ConsumerTierEnum }) tier: ConsumerTierEnum,
    @Context() ctx: GatewayContext,
  ): Promise<ConsumerModel> {
    return this.toModel(await this.consumers.setTier(ctx.requester, consumerId, tier));
  }

  private toModel(c: Consumer): ConsumerModel {
    return { ...c, tier: c.tier as ConsumerTierEnum, limits: this.consumers.limitsOf(c.tier) };
  }
}
