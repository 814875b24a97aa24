import { Inject } from '@nestjs/common';
import { Args, Field, ID, Int, ObjectType, Query, Resolver, registerEnumType } from '@nestjs/graphql';
import { badInput, limitExceeded } from '../errors/domain.error.js';
import { GeoJSONScalar } from '../graphql/scalars.js';
import { DB, type Db } from '../store/db.port.js';

export enum AdminLevelEnum {
  district = 'district',
  subdistrict = 'subdistrict',
  community = 'community',
}
registerEnumType(AdminLevelEnum, { name: 'AdminLevel', description: 'Administrative levels (public).' });

@ObjectType('Unit', { description: 'An administrative division of the city.' })
export class UnitModel {
  @Field(() => ID) id!: string;
  @Field(() => AdminLevelEnum) level!: AdminLevelEnum;
  @Field(() => String, { nullable: true }) code!: string | null;
  @Field(() => String) name!: string;
  @Field(() => String, { nullable: true }) nameZh!: string | null;
  @Field(() => ID, { nullable: true }) parentId!: string | null;
  @Field(() => GeoJSONScalar, { nullable: true }) geometry!: Record<string, unknown> | null;
}

/** Administrative divisions (district, subdistrict, community): official, public metadata. */
@Resolver()
export class UnitsResolver {
  constructor(@Inject(DB) private readonly db: Db) {}

  @Query(() => [UnitModel])
  async units(
    @Args('level', { type: () => AdminLevelEnum }) level: AdminLevelEnum,
    @Args('parent', { type: () => ID, nullable: true }) parent: string | null,
    @Args('first', { type: () => Int, defaultValue: 100 }) first: number,
    @Args('offset', { type: () => Int, defaultValue: 0 }) offset: number,
  ): Promise<UnitModel[]> {
    if (first < 1 || offset < 0) throw badInput('first must be ≥ 1 and offset ≥ 0.');
    if (first > 1000) throw limitExceeded('first may be at most 1000.');
    const rows = await this.db.query<{
      id: string;
      level: AdminLevelEnum;
      code: string | null;
      name: string;
      name_zh: string | null;
      parent_id: string | null;
      geom: Record<string, unknown> | null;
    }>(
      `select id, level, code, name, name_zh, parent_id, geom from units
       where level = $1 and ($2::text is null or parent_id = $2) order by id limit $3 offset $4`,
      [level, parent, first, offset],
    );
    return rows.map((r) => ({
      id: r.id,
      level: r.level,
      code: r.code,
      name: r.name,
      nameZh: r.name_zh,
      parentId: r.parent_id,
      geometry: r.geom,
    }));
  }
}
