import { Catch } from '@nestjs/common';
import type { GqlExceptionFilter } from '@nestjs/graphql';

/**
 * Hands every exception to the GraphQL error formatter unchanged (which maps it to a stable code and
 * logs what needs logging), instead of Nest's default handler logging expected refusals as errors.
 */
@Catch()
export class PassThroughFilter implements GqlExceptionFilter {
  catch(exception: unknown): unknown {
    return exception;
  }
}
