import { BadRequestException, Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, Post, Put, UseGuards, UsePipes, ValidationPipe } from '@nestjs/common';
import { ApiTokenGuard } from '../call-log/api-token.guard';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { OnCallRotas, type RotaInForce } from './on-call-rotas';
import { OnCallRota, type Rota, type RotaOverride } from './rota';
import { checkOverride, checkRota, OverrideBody, ROTA_ID, RotaBody } from './rota.dto';

/** GET /api/on-call: the rota in force, where it comes from, and who is on call now. */
export interface RotaView {
  readonly source: RotaInForce['source'];
  readonly updatedAt: string | null;
  readonly rota: Rota;
  /** In escalation order. */
  readonly onCallNow: ReadonlyArray<{ readonly id: string; readonly name: string }>;
}

/** The on-call rota: the whole of it, and one-off overrides. Edits go to the database copy, which wins over the default once saved. */
@Controller('api/on-call')
@UseGuards(ApiTokenGuard)
@UsePipes(new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true }))
export class OnCallController {
  constructor(
    private readonly rotas: OnCallRotas,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  @Get()
  async get(): Promise<RotaView> {
    return this.view(await this.rotas.current());
  }

  /** Replaces the whole rota (people, windows, overrides). */
  @Put()
  async replace(@Body() body: RotaBody): Promise<RotaView> {
    const { rota, problems } = checkRota(body, this.config.onCall.defaultTimeZone);
    if (!rota) throw new BadRequestException(problems);
    return this.view(await this.rotas.replace(rota));
  }

  /** Adds an override (one with the id of another replaces it); its people must be on the rota. */
  @Post('overrides')
  @HttpCode(201)
  async addOverride(@Body() body: OverrideBody): Promise<RotaOverride> {
    const { rota } = await this.rotas.current();
    const { override, problems } = checkOverride(body, rota.timezone, new Set(rota.people.map((p) => p.id)));
    if (!override) throw new BadRequestException(problems);
    const saved = await this.rotas.addOverride(override);
    return saved.rota.overrides.find((o) => o.id === override.id) ?? override;
  }

  @Delete('overrides/:id')
  @HttpCode(204)
  async removeOverride(@Param('id') id: string): Promise<void> {
    if (!ROTA_ID.test(id)) throw new BadRequestException('id must be an override id');
    if (!(await this.rotas.removeOverride(id))) throw new NotFoundException('No such override.');
  }

  private view(inForce: RotaInForce): RotaView {
    const now = new OnCallRota(inForce.rota).at(this.clock.epochMs());
    return { source: inForce.source, updatedAt: inForce.updatedAt, rota: inForce.rota, onCallNow: now.people.map((p) => ({ id: p.id, name: p.name })) };
  }
}
