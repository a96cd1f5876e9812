import { Global, Module } from '@nestjs/common';
import { Clock, SystemClock } from './clock';
import { Scheduler, SystemScheduler } from './scheduler';

@Global()
@Module({
  providers: [
    { provide: Clock, useClass: SystemClock },
    { provide: Scheduler, useClass: SystemScheduler },
  ],
  exports: [Clock, Scheduler],
})
export class CommonModule {}
