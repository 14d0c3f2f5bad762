import { ConfigurableModuleBuilder } from '@nestjs/common';
import { type QueueModuleOptions } from './interfaces/queue-module-options.interface.js';

export const {
  ConfigurableModuleClass: QueueConfigurableModule,
  MODULE_OPTIONS_TOKEN: QUEUE_MODULE_OPTIONS,
  OPTIONS_TYPE: QUEUE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: QUEUE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<QueueModuleOptions>({ moduleName: 'Queue' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createQueueOptions')
  .setExtras({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
