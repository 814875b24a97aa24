import { Field, Float, ID, Int, ObjectType } from '@nestjs/graphql';

@ObjectType('PrivateCell', { description: 'One group of a private aggregate: its noisy value.' })
export class PrivateCellModel {
  @Field(() => String) key!: string;
  @Field(() => String, { nullable: true }) label!: string | null;
  @Field(() => Int, { description: 'The true value plus discrete noise; may be negative.' }) value!: number;
}

@ObjectType('PrivateAggregate', { description: 'A differentially private aggregate and the budget left.' })
export class PrivateAggregateModel {
  @Field(() => ID) datasetId!: string;
  @Field(() => String) groupBy!: string;
  @Field(() => String) measure!: string;
  @Field(() => String, { nullable: true }) field!: string | null;
  @Field(() => String, { description: 'laplace or gaussian (discrete).' }) mechanism!: string;
  @Field(() => Float, { description: 'The epsilon this answer cost when it was first given.' }) epsilon!: number;
  @Field(() => Float, { description: 'What this call charged: 0 when the stored answer was returned.' })
  epsilonCharged!: number;
  @Field(() => Boolean, { description: 'true when answered from the stored answer of an equivalent query.' })
  cached!: boolean;
  @Field(() => Float, { description: "Epsilon left in your organisation's budget for this dataset." })
  epsilonRemaining!: number;
  @Field(() => [PrivateCellModel]) cells!: PrivateCellModel[];
  @Field(() => String, { description: 'The canonical query key (SHA-256).' }) queryKey!: string;
  @Field(() => Int) receiptIndex!: number;
}
