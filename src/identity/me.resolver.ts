import { Context, Field, ObjectType, Query, Resolver } from '@nestjs/graphql';
import type { GatewayContext } from '../graphql/context.js';

@ObjectType('Me', { description: 'Who the gateway thinks you are.' })
export class MeModel {
  @Field(() => String) sub!: string;
  @Field(() => String, { nullable: true }) org!: string | null;
  @Field(() => [String]) roles!: string[];
  @Field(() => String, { description: 'anonymous, api-key or jwt' }) via!: string;
}

@Resolver()
export class MeResolver {
  @Query(() => MeModel)
  me(@Context() ctx: GatewayContext): MeModel {
    const r = ctx.requester;
    return { sub: r.sub, org: r.org, roles: [...r.roles], via: r.via };
  }

  @Query(() => String, { description: 'Liveness: always "ok".' })
  health(): string {
    return 'ok';
  }
}
