import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsOptional,
  IsString,
  IsUrl,
  MaxLength,
  ValidateNested,
} from 'class-validator';

/** A document to ingest: where it came from and its text. */
export class IngestDocument {
  @IsUrl({ require_tld: false })
  @MaxLength(2_000)
  url!: string;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  title?: string;

  @IsString()
  @MaxLength(200_000)
  content!: string;
}

/** Many documents in one request, enqueued in one statement. */
export class IngestBatch {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(10_000)
  @ValidateNested({ each: true })
  @Type(() => IngestDocument)
  documents!: IngestDocument[];
}
